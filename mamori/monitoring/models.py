"""Models of mamori.monitoring: probe results, daily uptime aggregates, clock readings, the
alert state of the clock check and cached per-tenant usage. All provider tables (no customer
content: a tenant appears only as its numeric id in ``TenantUsage``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.monitoring.components import component_choices


class ProbeResult(models.Model):
    """One probe of one component (the worker runs one per component every minute).

    Raw rows are kept for ``RAW_RETENTION_DAYS`` and then rolled up into ``UptimeDay``."""

    component = models.CharField(_("component"), max_length=20, choices=component_choices())
    at = models.DateTimeField(_("time"), default=timezone.now)
    ok = models.BooleanField(_("ok"))
    latency_ms = models.FloatField(_("latency (ms)"))
    detail = models.CharField(_("detail"), max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["component", "-at"], name="probe_component_at"),
                   models.Index(fields=["at"], name="probe_at")]

    def __str__(self) -> str:
        return f"{self.component} {'ok' if self.ok else 'failed'} {self.at:%Y-%m-%d %H:%M}"


class UptimeDay(models.Model):
    """Probe results of one component on one UTC day, after the raw rows were deleted.

    ``downtime_minutes`` counts the distinct minutes with a failed probe."""

    component = models.CharField(_("component"), max_length=20, choices=component_choices())
    day = models.DateField(_("day"))
    checks = models.PositiveIntegerField(_("checks"), default=0)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    downtime_minutes = models.PositiveIntegerField(_("downtime (minutes)"), default=0)

    class Meta:
        ordering = ["component", "day"]
        constraints = [models.UniqueConstraint(fields=["component", "day"], name="uptime_component_day")]

    def __str__(self) -> str:
        return f"{self.component} {self.day}: {self.checks - self.failures}/{self.checks}"


class ClockReading(models.Model):
    """One SNTP measurement of the local clock against one server (RFC 4330).

    ``offset_ms`` is how far the server's clock is ahead of ours (positive: ours is slow)."""

    server = models.CharField(_("server"), max_length=255)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    ok = models.BooleanField(_("ok"))
    offset_ms = models.FloatField(_("offset (ms)"), null=True, blank=True)
    delay_ms = models.FloatField(_("round-trip delay (ms)"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.server} {self.offset_ms} ms" if self.ok else f"{self.server}: {self.error}"


class ClockState(models.Model):
    """The clock check's current state (one row). Alerts go out when it changes."""

    class State(models.TextChoices):
        OK = "ok", _("Within threshold")
        OFFSET = "offset", _("Offset above threshold")
        UNKNOWN = "unknown", _("Unknown (no server answered)")

    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    since = models.DateTimeField(_("since"), default=timezone.now)
    offset_ms = models.FloatField(_("offset (ms)"), null=True, blank=True)
    server = models.CharField(_("server"), max_length=255, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)

    def __str__(self) -> str:
        return self.state


class TenantUsage(models.Model):
    """Storage used by one tenant (bytes under its storage prefix) and its sign-in failures
    in the last hour, measured by a periodic job so that a metrics scrape reads one table."""

    tenant_id = models.BigIntegerField(_("tenant id"), unique=True)
    storage_bytes = models.BigIntegerField(_("storage (bytes)"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)
    signin_failures_last_hour = models.PositiveIntegerField(_("sign-in failures in the last hour"), default=0)
    measured_at = models.DateTimeField(_("measured at"), default=timezone.now)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return f"tenant {self.tenant_id}: {self.storage_bytes} bytes"
