"""Actions of mamori.monitoring (each writes its provider-log event in the same transaction).

Probe results, clock readings and the per-tenant usage cache are measurements written every
minute or every few minutes; they are not audited one by one. What is audited: every change
of the clock check's state (with an alert mail to the security officers) and every daily
roll-up that deletes raw probe rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate, TruncMinute
from django.utils import timezone, translation

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.monitoring.models import ClockState, ProbeResult, UptimeDay

RAW_RETENTION_DAYS = 2


def _security_officer_emails() -> list[str]:
    from mamori.operations.models import ProviderStaff

    return list(ProviderStaff.objects.filter(role=ProviderStaff.StaffRole.SECURITY_OFFICER, is_active=True)
                .values_list("email", flat=True))


def _label(state: str | None, language: str) -> str:
    if state is None:
        return "—"
    with translation.override(language):
        return str(ClockState.State(state).label)


def _alert_mail(state: ClockState, previous: str | None) -> None:
    recipients = _security_officer_emails()
    if not recipients:
        return
    offset = "—" if state.offset_ms is None else f"{state.offset_ms:.1f} ms"
    limit = settings.MAMORI_CLOCK_MAX_OFFSET_MS
    subject = f"[Mamori] 時刻同期: {_label(state.state, 'ja')} / Clock check: {_label(state.state, 'en')}"
    body = (
        f"サーバー時刻の監視状態が「{_label(previous, 'ja')}」から「{_label(state.state, 'ja')}」に変わりました。\n"
        f"ずれ: {offset}（しきい値 {limit} ms）  サーバー: {state.server or '—'}\n"
        f"理由: {state.reason or '—'}\n"
        f"日時 (UTC): {state.since:%Y-%m-%d %H:%M:%S}\n"
        "詳細はプロバイダーコンソールの「監視」でご確認ください。\n\n"
        f"The clock check changed from \"{_label(previous, 'en')}\" to \"{_label(state.state, 'en')}\".\n"
        f"Offset: {offset} (threshold {limit} ms)  Server: {state.server or '—'}\n"
        f"Reason: {state.reason or '—'}\n"
        f"Time (UTC): {state.since:%Y-%m-%d %H:%M:%S}\n"
        "See Monitoring in the provider console.\n"
    )
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=False))


@action
def change_clock_state(*, state: str, offset_ms: float | None, server: str, reason: str,
                       now: datetime | None = None, actor: Actor | None = None) -> ClockState:
    """Move the clock check to ``state`` (ok, offset, unknown): provider-log event, and an alert
    mail to the security officers unless this is the first state and it is ok."""
    now = now or timezone.now()
    row = ClockState.objects.select_for_update().filter(pk=1).first()
    previous = row.state if row else None
    before = {"state": previous, "offset_ms": row.offset_ms, "server": row.server} if row else None
    row = row or ClockState(pk=1)
    row.state, row.since, row.checked_at = state, now, now
    row.offset_ms, row.server, row.reason = offset_ms, server[:255], reason[:500]
    row.save()
    record_provider_event(
        "monitoring.clock_state_changed", actor=actor or Actor.system("clock check"),
        before=before,
        after={"state": state, "offset_ms": offset_ms, "server": row.server, "reason": row.reason,
               "threshold_ms": settings.MAMORI_CLOCK_MAX_OFFSET_MS},
    )
    if not (previous is None and state == ClockState.State.OK):
        _alert_mail(row, previous)
    return row


@action
def roll_up_probe_results(*, now: datetime | None = None, actor: Actor | None = None) -> dict:
    """Add raw probe results of whole UTC days older than ``RAW_RETENTION_DAYS`` to the
    per-day aggregates (``UptimeDay``) and delete them. Safe to run again (rows are moved,
    not copied)."""
    now = (now or timezone.now()).astimezone(UTC)
    cutoff = datetime.combine(now.date() - timedelta(days=RAW_RETENTION_DAYS), datetime.min.time(),
                              tzinfo=now.tzinfo)
    raw = ProbeResult.objects.filter(at__lt=cutoff)
    per_day = (raw.annotate(day=TruncDate("at", tzinfo=UTC)).values("component", "day")
               .annotate(checks=Count("id"), failures=Count("id", filter=Q(ok=False))))
    down = dict(
        ((row["component"], row["day"]), row["n"])
        for row in (raw.filter(ok=False).annotate(day=TruncDate("at", tzinfo=UTC), minute=TruncMinute("at", tzinfo=UTC))
                    .values("component", "day").annotate(n=Count("minute", distinct=True)))
    )
    days: set[date] = set()
    moved = 0
    for row in per_day:
        key = (row["component"], row["day"])
        days.add(row["day"])
        moved += row["checks"]
        aggregate, _ = UptimeDay.objects.select_for_update().get_or_create(component=key[0], day=key[1])
        aggregate.checks += row["checks"]
        aggregate.failures += row["failures"]
        aggregate.downtime_minutes = min(24 * 60, aggregate.downtime_minutes + down.get(key, 0))
        aggregate.save()
    deleted, _ = raw.delete()
    summary = {"rows": deleted, "days": sorted(d.isoformat() for d in days), "before": cutoff.isoformat()}
    record_provider_event("monitoring.probes_rolled_up", actor=actor or Actor.system("monitoring"),
                          after=summary)
    return summary
