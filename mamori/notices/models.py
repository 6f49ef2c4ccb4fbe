"""Notices from the provider to its tenants (12.1.2, 12.6.1): maintenance, changes,
vulnerabilities and release notes.

``Notice`` and ``NoticeDelivery`` are provider tables (no customer content; a delivery
keeps the address it went to, as the provider's record of having told the tenant).
``NoticeDismissal`` belongs to one tenant (a user hid the banner): a tenant table with
row-level security, exported, backed up and purged with the tenant.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mamori.tenancy.models import Tenant, TenantModel


class Notice(models.Model):
    class Kind(models.TextChoices):
        MAINTENANCE = "maintenance", _("Maintenance")
        CHANGE = "change", _("Change")
        VULNERABILITY = "vulnerability", _("Vulnerability")
        RELEASE = "release", _("Release notes")

    class Impact(models.TextChoices):
        NONE = "none", _("No impact")
        DEGRADED = "degraded", _("Degraded service")
        OUTAGE = "outage", _("Outage")

    class Audience(models.TextChoices):
        ALL = "all", _("All tenants")
        CHOSEN = "chosen", _("Chosen tenants")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MAINTENANCE)
    title_ja = models.CharField(_("title (Japanese)"), max_length=200, blank=True, default="")
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True, default="")
    body_ja = models.TextField(_("text (Japanese)"), blank=True, default="")
    body_en = models.TextField(_("text (English)"), blank=True, default="")
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    impact = models.CharField(_("impact"), max_length=20, choices=Impact.choices, default=Impact.NONE)
    components = models.JSONField(_("affected components"), default=list, blank=True)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices, default=Audience.ALL)
    tenants = models.ManyToManyField(Tenant, blank=True, related_name="+", verbose_name=_("tenants"))
    emergency = models.BooleanField(_("emergency"), default=False)
    emergency_reason = models.TextField(_("reason for the emergency"), blank=True, default="")
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.DRAFT)
    created_by = models.ForeignKey("operations.ProviderStaff", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_label = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    revision = models.PositiveIntegerField(default=1)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True, default="")
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-created_at", "-id"]
        verbose_name = _("notice")
        indexes = [models.Index(fields=["state", "kind", "starts_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title_en or self.title_ja}"

    def title_in(self, language: str | None = None) -> str:
        lang = (language or get_language() or "ja")[:2]
        return (self.title_ja if lang == "ja" else self.title_en) or self.title_en or self.title_ja

    def body_in(self, language: str | None = None) -> str:
        lang = (language or get_language() or "ja")[:2]
        return (self.body_ja if lang == "ja" else self.body_en) or self.body_en or self.body_ja

    @property
    def title(self) -> str:
        return self.title_in()

    @property
    def body(self) -> str:
        return self.body_in()

    @property
    def has_window(self) -> bool:
        return self.starts_at is not None and self.ends_at is not None

    def component_labels(self) -> list[str]:
        from mamori.monitoring.components import COMPONENTS

        return [str(COMPONENTS.get(key, key)) for key in self.components or []]

    def is_ongoing(self, now=None) -> bool:
        now = now or timezone.now()
        return self.has_window and self.starts_at <= now < self.ends_at


class NoticeDelivery(models.Model):
    """One notice delivered (or tried) to one tenant: a mail to one address, or the dashboard."""

    class Channel(models.TextChoices):
        MAIL = "mail", _("E-mail")
        DASHBOARD = "dashboard", _("Console banner")

    class Purpose(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("Announcement")
        UPDATE = "update", _("Update")
        REMINDER = "reminder", _("Reminder")
        CANCELLATION = "cancellation", _("Cancellation")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="deliveries")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.ANNOUNCEMENT)
    revision = models.PositiveIntegerField(default=1)
    address = models.CharField(max_length=254, blank=True, default="")
    language = models.CharField(max_length=5, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["notice_id", "tenant_id", "channel", "address", "id"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "tenant", "channel", "purpose", "revision", "address"],
                                    name="notices_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.notice_id} → {self.tenant_id} {self.channel} {self.address}"


class NoticeDismissal(TenantModel):
    """A user hid a notice's banner in the tenant console."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "notice"], name="notices_dismissal_once"),
        ]
