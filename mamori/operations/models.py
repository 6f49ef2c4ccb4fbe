"""Provider-side tables: provider staff and the local mail outbox. No customer content."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProviderStaff(models.Model):
    """The provider's own people: a population separate from customer users.

    They sign in at /provider/ with their own session key and have no path to
    tenant data (the web layer runs them with no tenant, and RLS hides every
    tenant row from that role).
    """

    class StaffRole(models.TextChoices):
        OPERATOR = "operator", _("Operator")
        SECURITY_OFFICER = "security_officer", _("Security officer")
        SUPPORT = "support", _("Support")

    email = models.EmailField(_("e-mail address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True, default="")
    role = models.CharField(_("role"), max_length=20, choices=StaffRole.choices, default=StaffRole.OPERATOR)
    password = models.CharField(max_length=256)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_login = models.DateTimeField(null=True, blank=True)
    # Second factor (mamori.operations.mfa): the TOTP secret wrapped by the master key, the
    # time step of the last accepted code (a code is never accepted twice), enrolment time.
    totp_secret = models.TextField(blank=True, default="")
    totp_last_step = models.BigIntegerField(null=True, blank=True)
    mfa_enrolled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("provider staff member")
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def set_password(self, raw: str | None) -> None:
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        return check_password(raw, self.password)


class OutboxMessage(models.Model):
    """Mail kept locally in the embedded default instead of being sent."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    from_email = models.CharField(max_length=254)
    to = models.TextField()
    subject = models.CharField(max_length=998)
    body = models.TextField()
    html_body = models.TextField(blank=True, default="")
    raw = models.TextField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class ScheduledRun(models.Model):
    """One periodic job of ``mamori.core.schedule``: when it is next due and when it last ran.

    ``mamori worker`` locks the row (``SELECT … FOR UPDATE``; SQLite's write lock) before it
    enqueues the job and moves ``next_run_at`` in the same transaction, so among any number of
    workers exactly one enqueues each run.
    """

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_task_id = models.CharField(max_length=64, blank=True, default="")
    runs = models.PositiveIntegerField(default=0)
    # The period/time the next_run_at was computed for ("1d@17:00"): a changed schedule
    # table moves next_run_at once.
    schedule_key = models.CharField(max_length=40, blank=True, default="")
    # The result of the latest run (``mamori.core.schedule`` records it from django_tasks'
    # task_started / task_finished signals).
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_trigger = models.CharField(max_length=20, blank=True, default="")  # "schedule" or "manual"

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VulnerabilityAudit(models.Model):
    """One run of ``mamori security audit`` (pip-audit against the installed packages).

    ``findings`` is a list of ``{"package", "version", "id", "fix_versions", "aliases",
    "description"}``; ``ok`` is False when the audit could not run (``error`` says why) —
    an audit that ran and found vulnerabilities is ``ok`` with findings.
    """

    ran_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    mode = models.CharField(max_length=20, default="installed")  # "installed" / "requirements"
    service = models.CharField(max_length=20, default="pypi")
    packages_checked = models.PositiveIntegerField(default=0)
    findings = models.JSONField(default=list, blank=True)
    # Packages pip-audit could not look up: [{"package", "reason"}].
    skipped = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    triggered_by = models.CharField(max_length=254, blank=True, default="")

    class Meta:
        ordering = ["-ran_at", "-id"]

    def __str__(self) -> str:
        return f"audit {self.ran_at:%Y-%m-%d %H:%M}"

    @property
    def vulnerable_packages(self) -> int:
        return len({f.get("package") for f in self.findings})

    @property
    def unfixed(self) -> int:
        """Findings that remain in the installed environment (every finding, whether or not
        a fixed version exists yet)."""
        return len(self.findings)

    @property
    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.get("fix_versions"))
