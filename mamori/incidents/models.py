"""Incidents, their per-tenant notification deadlines and deliveries, notification policies
and security event reports. All provider tables (no tenant row-level security): a row that
names a tenant holds no customer content, only the provider's own statements about it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _pick(ja: str, en: str, language: str | None = None) -> str:
    lang = (language or get_language() or "ja")[:2]
    return (ja or en) if lang == "ja" else (en or ja)


class Incident(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "critical", _("Critical")
        HIGH = "high", _("High")
        MEDIUM = "medium", _("Medium")
        LOW = "low", _("Low")

    class State(models.TextChoices):
        INVESTIGATING = "investigating", _("Investigating")
        IDENTIFIED = "identified", _("Identified")
        MONITORING = "monitoring", _("Monitoring")
        RESOLVED = "resolved", _("Resolved")

    title_ja = models.CharField(_("title (Japanese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    state = models.CharField(_("state"), max_length=15, choices=State.choices, default=State.INVESTIGATING)
    started_at = models.DateTimeField(_("started at"))
    detected_at = models.DateTimeField(_("detected at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    components = models.JSONField(_("affected components"), default=list, blank=True)
    all_tenants = models.BooleanField(_("all tenants affected"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=254, default="", blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-id"]

    def __str__(self) -> str:
        return f"INC-{self.pk}: {self.title_en or self.title_ja}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    def title(self, language: str | None = None) -> str:
        return _pick(self.title_ja, self.title_en, language)

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED


class IncidentUpdate(models.Model):
    """One entry of an incident's timeline. Public entries reach the affected tenants
    (their audit log, dashboard and — when notified — mail) and the status page."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    at = models.DateTimeField(default=timezone.now)
    text_ja = models.TextField(_("text (Japanese)"))
    text_en = models.TextField(_("text (English)"))
    public = models.BooleanField(_("public"), default=False)
    author = models.ForeignKey("operations.ProviderStaff", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    author_label = models.CharField(max_length=254, default="", blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.incident_id} @ {self.at:%Y-%m-%d %H:%M}"

    def text(self, language: str | None = None) -> str:
        return _pick(self.text_ja, self.text_en, language)


class AffectedTenant(models.Model):
    """An affected tenant of an incident and the deadline of its first notice."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    policy = models.CharField(max_length=60)  # the policy key the deadline was computed with
    deadline = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)  # first notice that reached the tenant
    warned_at = models.DateTimeField(null=True, blank=True)  # security officers warned before the deadline
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)  # overdue flagged (once)

    class Meta:
        ordering = ["deadline", "id"]
        constraints = [models.UniqueConstraint(fields=["incident", "tenant"], name="incidents_affected_unique")]

    def __str__(self) -> str:
        return f"{self.incident_id}/{self.tenant_id}"

    def status(self, now=None) -> str:
        """pending | on_time | late | overdue."""
        if self.notified_at is not None:
            return "on_time" if self.notified_at <= self.deadline else "late"
        return "overdue" if (now or timezone.now()) > self.deadline else "pending"


class Delivery(models.Model):
    """One delivery of a notice to one tenant: an e-mail to one contact, or the dashboard."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        DASHBOARD = "dashboard", _("Dashboard")

    affected = models.ForeignKey(AffectedTenant, on_delete=models.CASCADE, related_name="deliveries")
    update = models.ForeignKey(IncidentUpdate, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, default="", blank=True)
    language = models.CharField(max_length=8, default="ja")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, default="", blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.address}"


class NotificationPolicy(models.Model):
    """Provider table: a tenant's own notification policy (else MAMORI_INCIDENT_NOTIFICATION_POLICY)."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    preset = models.CharField(max_length=20)
    hours = models.PositiveIntegerField(null=True, blank=True)
    business_hours = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.CharField(max_length=254, default="", blank=True)

    def __str__(self) -> str:
        return f"{self.preset} (tenant {self.tenant_id})"


class SecurityReport(models.Model):
    """A security event report sent through the public form (16.1.2)."""

    class State(models.TextChoices):
        NEW = "new", _("New")
        TRIAGED = "triaged", _("Triaged")
        CLOSED = "closed", _("Closed")

    reference = models.CharField(max_length=32, unique=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    name = models.CharField(max_length=100, default="", blank=True)
    email = models.EmailField(max_length=254, default="", blank=True)
    language = models.CharField(max_length=8, default="ja")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    assignee = models.ForeignKey("operations.ProviderStaff", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    notes = models.TextField(default="", blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return self.reference
