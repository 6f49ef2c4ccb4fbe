"""Models of the lifecycle app: the tenants' data keys (DEKs), stored wrapped by the master key."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class TenantDataKey(TenantModel):
    """One generation of a tenant's data key (DEK), wrapped by the provider's master key (KEK).

    Exactly one generation per tenant is ``active`` (new encryption uses it). During a
    ``mamori keys rotate-tenant`` the previous generation is ``retiring`` (still decrypts,
    its data is being re-encrypted); afterwards it is ``retired`` (still decrypts, e.g.
    old per-tenant backups, never encrypts). ``destroyed`` keys have no key material left:
    whatever they encrypted is unreadable for good. The plaintext DEK is never stored.
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        RETIRING = "retiring", _("Retiring (re-encryption running)")
        RETIRED = "retired", _("Retired")
        DESTROYED = "destroyed", _("Destroyed")

    version = models.PositiveIntegerField(_("version"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.ACTIVE)
    # "kw1.<kek id>.<base64url(nonce || AES-256-GCM(KEK, DEK))>"; empty once destroyed.
    wrapped_key = models.TextField(editable=False, default="")
    kek_id = models.CharField(_("master key id"), max_length=64, editable=False, default="")
    fingerprint = models.CharField(_("fingerprint (SHA-256)"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)
    destroyed_at = models.DateTimeField(_("destroyed"), null=True, blank=True)

    class Meta(TenantModel.Meta):
        verbose_name = _("tenant data key")
        verbose_name_plural = _("tenant data keys")
        ordering = ["tenant_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="lifecycle_datakey_tenant_version"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(state="active"),
                                    name="lifecycle_datakey_one_active"),
        ]

    def __str__(self) -> str:
        return f"DEK v{self.version} ({self.state}) {self.fingerprint[:16]}"


class MasterKeyMarker(models.Model):
    """Provider table (one row): which master key wraps the data keys now.

    Checked before any data key is created or re-wrapped, so a wrong master key cannot
    start a second, incompatible set of wrapped keys. ``verifier`` is a random value
    wrapped by the master key; ``mamori keys rotate-master`` replaces it atomically with
    the data keys.
    """

    name = models.CharField(max_length=20, unique=True, default="master")
    kek_id = models.CharField(max_length=64)
    verifier = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("master key marker")
        verbose_name_plural = _("master key markers")

    def __str__(self) -> str:
        return f"master key {self.kek_id}"


# --- System backups and restore drills (mamori.lifecycle.backup; docs/backups.md) ---------------


class SystemBackup(models.Model):
    """Provider table: one encrypted system backup file (the file and its manifest are the truth;
    this row mirrors them for the console and the control check)."""

    class Offsite(models.TextChoices):
        NONE = "none", _("Not configured")
        COPIED = "copied", _("Copied and checked")
        FAILED = "failed", _("Copy failed")

    file_name = models.CharField(_("file"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    engine = models.CharField(_("database engine"), max_length=20)
    size = models.BigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    plaintext_size = models.BigIntegerField(default=0)
    plaintext_sha256 = models.CharField(max_length=64, default="")
    key_id = models.CharField(_("backup key id"), max_length=32, default="")
    rows = models.BigIntegerField(_("rows"), default=0)
    mamori_version = models.CharField(max_length=40, default="")
    tags = models.CharField(_("generations"), max_length=100, blank=True, default="")
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verify_ok = models.BooleanField(_("verification passed"), null=True, blank=True)
    verify_error = models.TextField(blank=True, default="")
    offsite_state = models.CharField(_("off-site copy"), max_length=10, choices=Offsite.choices,
                                     default=Offsite.NONE)
    offsite_at = models.DateTimeField(null=True, blank=True)
    offsite_error = models.TextField(blank=True, default="")
    pruned_at = models.DateTimeField(_("pruned"), null=True, blank=True)

    class Meta:
        verbose_name = _("system backup")
        verbose_name_plural = _("system backups")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name


class RestoreDrill(models.Model):
    """Provider table: one restore drill (newest backup restored into a scratch database and checked)."""

    class Result(models.TextChoices):
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    backup_file = models.CharField(_("backup"), max_length=200, blank=True, default="")
    result = models.CharField(_("result"), max_length=10, choices=Result.choices, default=Result.RUNNING)
    # [{"name": "row_counts", "ok": true, "detail": "…"}, …]
    checks = models.JSONField(_("checks"), default=list, blank=True)
    # {"restore_seconds": 1.2, "rows": 1234, "tables": 60, "tenants": 3, "events": 456, …}
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True, default="")

    class Meta:
        verbose_name = _("restore drill")
        verbose_name_plural = _("restore drills")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"drill {self.started_at:%Y-%m-%d %H:%M} {self.result}"


# --- Full tenant export (mamori.lifecycle.export) ------------------------------------------------

def default_export_expiry():
    from django.conf import settings
    from django.utils import timezone

    return timezone.now() + timezone.timedelta(days=settings.TENANT_EXPORT_EXPIRY_DAYS)


class TenantExport(TenantModel):
    """One full export of a tenant's data (a signed ZIP), generated in the background.

    At most one export per tenant is waiting or running at a time (a partial unique
    constraint, so two requests racing each other cannot both start one). The ZIP lives
    in the default storage under ``tenants/<id>/exports/``; its download link expires
    (``TENANT_EXPORT_EXPIRY_DAYS``) and the cleanup job then deletes the file, keeping
    the row as the record that an export existed.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Exporting")
        COMPLETED = "completed", _("Ready")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("requested by"))
    requested_by_label = models.CharField(_("requested by"), max_length=200, blank=True, default="")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    rows_total = models.BigIntegerField(_("rows to export"), default=0)
    rows_done = models.BigIntegerField(_("rows exported"), default=0)
    table_count = models.IntegerField(_("tables"), default=0)
    file_count = models.IntegerField(_("files"), default=0)
    unreadable_files = models.IntegerField(_("unreadable files"), default=0)
    file_path = models.CharField(max_length=300, blank=True, default="")
    file_size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), default=default_export_expiry)

    class Meta(TenantModel.Meta):
        verbose_name = _("tenant export")
        verbose_name_plural = _("tenant exports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=Q(status__in=["pending", "running"]),
                                    name="lifecycle_export_one_in_progress"),
        ]

    def __str__(self) -> str:
        return f"tenant export {self.pk} ({self.status})"

    @property
    def is_expired(self) -> bool:
        from django.utils import timezone

        return self.expires_at <= timezone.now()

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.COMPLETED and bool(self.file_path) and not self.is_expired

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def error_message(self) -> str:
        """The failure as shown to the admin (translated; the stored ``error`` is for operators)."""
        if not self.error:
            return ""
        if self.error.startswith("disk full"):
            return str(_("There was not enough storage space to write the export. Partial files were removed; "
                         "start the export again once space is available."))
        if self.error.startswith("interrupted"):
            return str(_("The export stopped because the background worker ended. Start it again."))
        return str(_("The export failed (%(error)s). Partial files were removed.") % {"error": self.error})

    @property
    def filename(self) -> str:
        stamp = (self.completed_at or self.created_at)
        return f"mamori-export-{self.pk}-{stamp:%Y%m%d}.zip" if stamp else f"mamori-export-{self.pk}.zip"


# --- Termination, purge and deletion certificates (termination helper) ------------------------


class TerminationPolicy(models.Model):
    """Provider table: a per-tenant grace period that overrides MAMORI_TERMINATION_GRACE_DAYS."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    grace_days = models.PositiveIntegerField(_("grace period (days)"))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, default="", blank=True)

    class Meta:
        verbose_name = _("termination policy")
        verbose_name_plural = _("termination policies")

    def __str__(self) -> str:
        return f"grace {self.grace_days} days (tenant {self.tenant_id})"


class Termination(models.Model):
    """Provider table: one contract termination, from the request to the purge.

    Deliberately not a ``TenantModel``: it outlives the tenant's data and holds the purge's
    progress (``progress``) so that a purge interrupted at any point continues where it
    stopped. The admins' addresses (``contact_emails``) are kept only until the deletion
    certificate has been mailed to them.
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled (grace period)")
        CANCELLED = "cancelled", _("Cancelled")
        PURGING = "purging", _("Purging")
        PURGED = "purged", _("Purged")

    OPEN_STATES = (State.SCHEDULED, State.PURGING)

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.SCHEDULED)
    requested_at = models.DateTimeField(_("requested"))
    requested_by = models.CharField(_("requested by"), max_length=300)
    requested_by_type = models.CharField(max_length=20)  # user | provider_staff | system
    reason = models.TextField(_("reason"), blank=True, default="")
    grace_days = models.PositiveIntegerField(_("grace period (days)"))
    ends_at = models.DateTimeField(_("grace period ends"))
    contact_emails = models.JSONField(default=list, blank=True)
    reminders_sent = models.JSONField(default=list, blank=True)  # reminder days already mailed
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancelled_by = models.CharField(max_length=300, blank=True, default="")
    purge_started_at = models.DateTimeField(_("purge started"), null=True, blank=True)
    purged_at = models.DateTimeField(_("purged"), null=True, blank=True)
    # {"step": ..., "tables": {label: rows}, "sessions": n, "files_total": n, "backups": n, "keys": [...]}
    progress = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("termination")
        verbose_name_plural = _("terminations")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=Q(state__in=["scheduled", "purging"]),
                                    name="lifecycle_termination_one_open"),
        ]

    def __str__(self) -> str:
        return f"termination of tenant {self.tenant_id} ({self.state})"


class DeletionCertificate(models.Model):
    """Provider table: the signed proof that a tenant's data was purged. No customer data:
    tenant id, slug and name, times, row counts per table, files removed and the
    fingerprints of the destroyed data keys. ``document`` is the signed JSON as issued."""

    termination = models.OneToOneField(Termination, on_delete=models.PROTECT, related_name="certificate")
    certificate_id = models.CharField(max_length=36, unique=True)
    tenant_ref = models.BigIntegerField()
    tenant_slug = models.CharField(max_length=40)
    tenant_name = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    rows_deleted = models.BigIntegerField(default=0)
    files_removed = models.BigIntegerField(default=0)
    key_id = models.CharField(max_length=64)
    signature = models.TextField()
    sha256 = models.CharField(max_length=64)
    document = models.TextField()
    emailed_to_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("deletion certificate")
        verbose_name_plural = _("deletion certificates")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"deletion certificate {self.certificate_id} ({self.tenant_slug})"


class TenantBackup(models.Model):
    """Provider table: one per-tenant encrypted logical backup (``mamori.lifecycle.tenant_backup``).

    Provider-side on purpose: it is not part of the tenant's data, so an in-place restore
    (which replaces every tenant row) keeps the list of backups, and after a purge the row
    stays as a record with ``status = deleted`` (the file is gone and its data key destroyed).
    It holds no customer content: ids, times, sizes, row counts per table, digests.
    """

    class Status(models.TextChoices):
        COMPLETE = "complete", _("Complete")
        FAILED = "failed", _("Failed")
        DELETED = "deleted", _("Deleted")

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        MANUAL = "manual", _("On demand")

    uuid = models.UUIDField(unique=True, editable=False)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.COMPLETE)
    trigger = models.CharField(_("trigger"), max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    taken_at = models.DateTimeField(_("taken at"), db_index=True)
    storage_name = models.CharField(max_length=300, default="")
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, default="")
    key_version = models.PositiveIntegerField(default=0)
    row_count = models.BigIntegerField(_("rows"), default=0)
    table_count = models.IntegerField(_("tables"), default=0)
    file_count = models.IntegerField(_("files"), default=0)
    counts = models.JSONField(default=dict)  # {"app.Model": rows}
    schema = models.CharField(_("schema fingerprint"), max_length=64, default="")
    duration_ms = models.BigIntegerField(default=0)
    error = models.CharField(max_length=500, default="", blank=True)
    requested_by = models.CharField(max_length=254, default="", blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("tenant backup")
        verbose_name_plural = _("tenant backups")
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "taken_at"], name="lifecycle_tb_tenant_time")]

    def __str__(self) -> str:
        return f"tenant backup {self.uuid} of tenant {self.tenant_id} ({self.status})"
