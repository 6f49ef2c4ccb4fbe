"""Taking per-tenant backups (on demand and daily), finding the one to restore, and the worker job."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from mamori.audit.events import Actor
from mamori.lifecycle import tenant_backup as tb
from mamori.lifecycle.models import TenantBackup
from mamori.tenancy.models import Tenant

logger = logging.getLogger("mamori.lifecycle.tenant_backup")
JOB_NAME = "lifecycle.tenant_backups"


def take_backup(tenant: Tenant, *, actor: Actor, trigger: str = TenantBackup.Trigger.MANUAL) -> TenantBackup:
    """Write one backup of ``tenant`` and record it (audited). On failure the partial file is
    removed, a failed row and a provider event are kept, and the error is raised again."""
    from mamori.lifecycle.actions_tenant_backup import (
        record_tenant_backup,
        record_tenant_backup_failure,
    )

    if tenant.status == Tenant.Status.PURGED:
        raise ValidationError({"tenant": _("The tenant was purged; there is nothing to back up.")})
    try:
        result = tb.write_backup(tenant)
    except Exception as exc:
        record_tenant_backup_failure(actor=actor, tenant=tenant, error=f"{type(exc).__name__}: {exc}"[:500],
                                     trigger=trigger)
        raise
    try:
        return record_tenant_backup(actor=actor, tenant=tenant, result=result, trigger=trigger)
    except BaseException:
        tb.delete_quietly(result.storage_name)
        raise


def tenant_by_slug(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=(slug or "").strip().lower()).first()
    if tenant is None:
        raise ValidationError({"tenant": _("No tenant with the slug %(slug)s.") % {"slug": slug}})
    return tenant


def backups_of(tenant: Tenant):
    """The tenant's backups for lists (provider rows: no customer content), newest first."""
    return TenantBackup.objects.filter(tenant=tenant).order_by("-taken_at", "-id")


def backup_at(tenant: Tenant, at: datetime) -> TenantBackup:
    """The newest complete backup of ``tenant`` taken at or before ``at``."""
    backup = (TenantBackup.objects.filter(tenant=tenant, status=TenantBackup.Status.COMPLETE, taken_at__lte=at)
              .order_by("-taken_at", "-id").first())
    if backup is None:
        raise ValidationError({"at": _("No backup of %(slug)s was taken at or before %(time)s.")
                               % {"slug": tenant.slug, "time": at.isoformat()}})
    return backup


def parse_time(value: str, tenant: Tenant | None = None) -> datetime:
    """An ISO 8601 time; without an offset it is read in the tenant's time zone (else UTC)."""
    import zoneinfo

    from django.utils.dateparse import parse_date, parse_datetime

    text = (value or "").strip()
    try:
        parsed = parse_datetime(text.replace(" ", "T", 1)) if "T" in text or " " in text else None
        if parsed is None and parse_date(text) is not None:
            parsed = datetime.combine(parse_date(text), datetime.max.time())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({"at": _("Give the time as ISO 8601, e.g. 2026-11-20T09:00 or 2026-11-20T09:00+09:00.")})
    if timezone.is_naive(parsed):
        zone = zoneinfo.ZoneInfo(tenant.time_zone) if tenant is not None else zoneinfo.ZoneInfo("UTC")
        parsed = timezone.make_aware(parsed, zone)
    return parsed


def run_daily(*, actor: Actor | None = None) -> dict:
    """Back up every active tenant, then prune each one's backups older than the keep days."""
    from mamori.lifecycle.actions_tenant_backup import prune_tenant_backups

    actor = actor or Actor.system("tenant backups")
    summary = {"backed_up": 0, "failed": 0, "pruned": 0}
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("pk"):
        try:
            take_backup(tenant, actor=actor, trigger=TenantBackup.Trigger.SCHEDULED)
            summary["backed_up"] += 1
        except Exception as exc:  # noqa: BLE001 - one tenant's failure must not stop the others
            summary["failed"] += 1
            logger.error("tenant backup of tenant %s failed: %s", tenant.pk, type(exc).__name__)
        summary["pruned"] += prune_tenant_backups(actor=actor, tenant=tenant)
    return summary


@task()
def daily_tenant_backups() -> str:
    summary = run_daily()
    return "backed_up={backed_up} failed={failed} pruned={pruned}".format(**summary)


def register_jobs() -> None:
    """Register the daily job with the scheduler (``mamori.core.schedule``), if present."""
    try:
        from mamori.core import schedule
    except ImportError:  # no scheduler in this build: run `mamori backup create-tenant` from cron
        return
    from django.conf import settings

    at = schedule.parse_time(getattr(settings, "MAMORI_TENANT_BACKUP_TIME", "17:30"), "MAMORI_TENANT_BACKUP_TIME")
    schedule.register_periodic(JOB_NAME, timedelta(days=1), daily_tenant_backups, at=at)
