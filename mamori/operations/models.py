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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
