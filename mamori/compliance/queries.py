"""Reads of stored control-check results (provider tables, no tenant scope)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max, QuerySet

from mamori.compliance.models import ControlResult, ControlRun


def latest_results() -> dict[str, ControlResult]:
    """The newest stored result of every control key that has one, keyed by control key."""
    newest = (ControlResult.objects.values("key").annotate(last=Max("id")).values_list("last", flat=True))
    rows = ControlResult.objects.filter(id__in=list(newest)).select_related("run")
    return {row.key: row for row in sorted(rows, key=lambda r: r.key)}


def history(key: str | None = None, since: datetime | None = None, until: datetime | None = None) -> QuerySet:
    """Stored results, newest first, optionally of one key and within [since, until)."""
    rows = ControlResult.objects.select_related("run").order_by("-checked_at", "-id")
    if key:
        rows = rows.filter(key=key)
    if since is not None:
        rows = rows.filter(checked_at__gte=since)
    if until is not None:
        rows = rows.filter(checked_at__lt=until)
    return rows


def recent_runs(limit: int = 20) -> QuerySet:
    return ControlRun.objects.order_by("-started_at", "-id")[:limit]
