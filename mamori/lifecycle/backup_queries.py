"""Reads for the provider console's backup page and for control checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mamori.lifecycle.models import RestoreDrill, SystemBackup


@dataclass(frozen=True)
class BackupStatus:
    newest: SystemBackup | None
    newest_is_fresh: bool  # younger than the policy's day (plus a margin)
    last_drill: RestoreDrill | None
    last_passed_drill: RestoreDrill | None
    drill_is_recent: bool  # a passed drill within the last 30 days


def backup_status(now: datetime | None = None) -> BackupStatus:
    now = now or timezone.now()
    newest = SystemBackup.objects.filter(pruned_at__isnull=True).order_by("-created_at").first()
    last_drill = RestoreDrill.objects.order_by("-started_at", "-id").first()
    passed = RestoreDrill.objects.filter(result=RestoreDrill.Result.PASSED).order_by("-started_at", "-id").first()
    return BackupStatus(
        newest=newest,
        newest_is_fresh=newest is not None and newest.created_at >= now - timedelta(hours=26),
        last_drill=last_drill,
        last_passed_drill=passed,
        drill_is_recent=passed is not None and passed.started_at >= now - timedelta(days=30),
    )


def recent_backups(limit: int = 60):
    return SystemBackup.objects.filter(pruned_at__isnull=True).order_by("-created_at")[:limit]


def recent_drills(limit: int = 20):
    return RestoreDrill.objects.order_by("-started_at", "-id")[:limit]


def policy() -> dict:
    return {"keep_daily": settings.BACKUP_KEEP_DAILY, "keep_weekly": settings.BACKUP_KEEP_WEEKLY,
            "offsite": bool(settings.BACKUP_OFFSITE_DIR), "scheduled": settings.SCHEDULE_ENABLED
            and settings.BACKUP_SCHEDULE, "backup_time": settings.BACKUP_TIME,
            "drill_scheduled": settings.SCHEDULE_ENABLED and settings.BACKUP_DRILL_SCHEDULE,
            "drill_every_days": settings.BACKUP_DRILL_EVERY_DAYS, "drill_time": settings.BACKUP_DRILL_TIME}
