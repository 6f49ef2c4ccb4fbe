"""Reads for the provider console. Provider tables only: no customer data is reachable here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from mamori.audit.models import ProviderEvent
from mamori.operations.models import OutboxMessage

PAGE_SIZE = 50


def _page(queryset: QuerySet, number) -> Page:
    return Paginator(queryset, PAGE_SIZE).get_page(number)


def provider_events_page(number) -> Page:
    """The provider log, newest first."""
    return _page(ProviderEvent.objects.order_by("-occurred_at", "-id"), number)


def outbox_page(number) -> Page:
    """Mail kept in the local outbox (embedded default), newest first; bodies are not loaded."""
    return _page(OutboxMessage.objects.order_by("-created_at", "-id")
                 .only("id", "created_at", "to", "subject"), number)


def outbox_message(message_id: int) -> OutboxMessage | None:
    return OutboxMessage.objects.filter(pk=message_id).first()


def recent_staff_sign_in_failures(*, email: str, ip: str | None, minutes: int) -> tuple[int, int]:
    """Failed provider sign-ins in the last ``minutes``: (for this e-mail, from this IP)."""
    from datetime import timedelta

    from django.utils import timezone

    since = timezone.now() - timedelta(minutes=minutes)
    failures = ProviderEvent.objects.filter(action="provider.login_failed", occurred_at__gte=since)
    by_email = failures.filter(actor_label=(email or "").strip().lower()[:254]).count() if email else 0
    by_ip = failures.filter(ip=ip).count() if ip else 0
    return by_email, by_ip


# --- Tenants page: usage counts (never content) ------------------------------------------------

@dataclass(frozen=True)
class TenantUsage:
    users: int
    active_users: int
    records: int
    storage_bytes: int
    storage_files: int


def storage_usage(prefix: str) -> tuple[int, int]:
    """(bytes, files) under ``prefix`` in the default storage (names and sizes only); the one
    walker the monitoring job uses too (bounded per tenant)."""
    from mamori.monitoring.usage import storage_usage as walk_usage

    return walk_usage(prefix)


def tenant_usage(tenant) -> TenantUsage:
    """Counts for one tenant, read inside its own tenant context (RLS applies): how many users
    and records, and the bytes its files take. No row content leaves this function."""
    from mamori.accounts.models import User
    from mamori.lifecycle.walk import tenant_storage_prefix
    from mamori.records.models import Record
    from mamori.support.models import SupportAccessRequest
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        # The support users of consented support access are the provider's, not the tenant's seats.
        people = User.objects.exclude(pk__in=SupportAccessRequest.objects.filter(support_user__isnull=False)
                                      .values("support_user_id"))
        users = people.count()
        active = people.filter(is_active=True).count()
        records = Record.objects.count()
    size, files = storage_usage(tenant_storage_prefix(tenant.pk))
    return TenantUsage(users, active, records, size, files)


# --- Schedules page ------------------------------------------------------------------------

@dataclass
class ScheduleRow:
    name: str
    every: timedelta
    at: time | None
    enabled: bool
    overridden: bool
    default_every: timedelta | None
    default_at: time | None
    run: Any  # ScheduledRun | None
    next_run_at: datetime | None

    @property
    def every_text(self) -> str:
        from mamori.core.schedule import format_every

        return format_every(self.every)

    @property
    def at_text(self) -> str:
        return self.at.strftime("%H:%M") if self.at else "-"

    @property
    def default_text(self) -> str:
        from mamori.core.schedule import format_every

        every = format_every(self.default_every) if self.default_every else "-"
        return f"{every}@{self.default_at.strftime('%H:%M')}" if self.default_at else every

    @property
    def result(self) -> str:
        run = self.run
        if run is None or not run.last_task_id:
            return "never"
        if run.last_finished_at is not None and run.last_ok is not None:
            return "ok" if run.last_ok else "failed"
        if run.last_started_at is not None:
            return "running"
        return "queued"

    @property
    def last_run_text(self) -> str:
        return self.run.last_run_at.strftime("%Y-%m-%dT%H:%MZ") if self.run and self.run.last_run_at else "-"

    @property
    def next_run_text(self) -> str:
        return self.next_run_at.strftime("%Y-%m-%dT%H:%MZ") if self.next_run_at else "-"

    def as_dict(self) -> dict:
        run = self.run
        return {
            "name": self.name, "every": self.every_text, "at": self.at_text if self.at else None,
            "enabled": self.enabled, "overridden": self.overridden, "default": self.default_text,
            "last_run_at": run.last_run_at.isoformat() if run and run.last_run_at else None,
            "last_trigger": run.last_trigger if run else None,
            "result": self.result, "error": run.last_error if run else "",
            "duration_ms": run.last_duration_ms if run else None,
            "next_run_at": self.next_run_at.isoformat() if self.next_run_at else None,
        }


def schedule_rows(now: datetime | None = None) -> list[ScheduleRow]:
    """Every registered job with its effective schedule, last run and result, and next run."""
    from django.utils import timezone

    from mamori.core import schedule
    from mamori.operations.models import ScheduledRun

    now = now or timezone.now()
    runs = {run.name: run for run in ScheduledRun.objects.all()}
    rows = []
    for name, job in schedule.registered_jobs().items():
        run = runs.get(name)
        if not job.enabled or not settings.SCHEDULE_ENABLED:
            next_at = None
        elif run is None:
            next_at = schedule.first_run(job, now)
        elif run.schedule_key and run.schedule_key != job.schedule_key:
            # the schedule table changed: what the next worker round will set
            next_at = schedule.first_run(job, now) if job.at else (
                run.last_run_at + job.every if run.last_run_at else run.next_run_at)
        else:
            next_at = run.next_run_at
        rows.append(ScheduleRow(name, job.every, job.at, job.enabled, job.overridden, job.default_every,
                                job.default_at, run, next_at))
    return rows


# --- Vulnerability audits ------------------------------------------------------------------

def vulnerability_audits_page(number) -> Page:
    from mamori.operations.models import VulnerabilityAudit

    return _page(VulnerabilityAudit.objects.order_by("-ran_at", "-id"), number)


def latest_vulnerability_audit(*, ok_only: bool = False):
    from mamori.operations.models import VulnerabilityAudit

    audits = VulnerabilityAudit.objects.order_by("-ran_at", "-id")
    return (audits.filter(ok=True) if ok_only else audits).first()


def recent_mfa_failures(staff_id: int, *, minutes: int) -> int:
    from django.utils import timezone

    since = timezone.now() - timedelta(minutes=minutes)
    return ProviderEvent.objects.filter(action="provider.mfa_failed", target_id=str(staff_id),
                                        occurred_at__gte=since).count()
