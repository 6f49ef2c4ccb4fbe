"""Retention overrides, purge checkpoints and evidence export jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import TenantModel


class Category(models.TextChoices):
    """Retention categories a tenant admin may override (the provider log is the provider's)."""

    OPERATION = "operation", _("Operation log")
    SIGNIN = "signin", _("Sign-in history")
    API = "api", _("API access")


class RetentionOverride(TenantModel):
    """A tenant's own retention for one category, inside the provider's bounds."""

    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    days = models.PositiveIntegerField(_("days"), help_text=_("0 keeps events for the contract's life."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("retention override")
        verbose_name_plural = _("retention overrides")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "category"], name="evidence_retention_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.days}"


class AuditCheckpoint(models.Model):
    """Signed record of a retention purge: where the remaining chain starts.

    ``hash_at_seq`` is the hash of the last removed event, i.e. the ``prev_hash``
    of the first remaining one, so the chain verifies from ``purged_through_seq + 1``.
    Holds hashes and counts only, no customer content (like the signed digests).
    """

    chain = models.CharField(max_length=40, db_index=True)
    purged_through_seq = models.BigIntegerField()
    hash_at_seq = models.CharField(max_length=64)
    removed_count = models.BigIntegerField()
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=200)

    class Meta:
        ordering = ["chain", "-purged_through_seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "purged_through_seq"], name="evidence_checkpoint_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.chain} ≤ {self.purged_through_seq}"


def default_expiry():
    return timezone.now() + timezone.timedelta(days=settings.EVIDENCE_EXPORT_EXPIRY_DAYS)


class EvidenceExport(TenantModel):
    """One evidence package (ZIP) for a time range, generated in the background."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Generating")
        COMPLETED = "completed", _("Ready")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+", verbose_name=_("requested by"))
    since = models.DateTimeField(_("from"))
    until = models.DateTimeField(_("until"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    event_count = models.BigIntegerField(_("events"), default=0)
    first_seq = models.BigIntegerField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    digest_count = models.IntegerField(default=0)
    file_path = models.CharField(max_length=300, blank=True, default="")
    file_size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), default=default_expiry)

    class Meta:
        verbose_name = _("evidence export")
        verbose_name_plural = _("evidence exports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"evidence {self.pk} ({self.since:%Y-%m-%d}–{self.until:%Y-%m-%d})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.COMPLETED and bool(self.file_path) and not self.is_expired

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def filename(self) -> str:
        return f"mamori-evidence-{self.pk}-{self.since:%Y%m%d}-{self.until:%Y%m%d}.zip"
