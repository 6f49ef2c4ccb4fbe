"""The clock check (ISO/IEC 27002 12.4.4): measure the offset against ``MAMORI_NTP_SERVERS``.

Every server is asked once (SNTP, 2 s timeout); each answer or failure is stored as a
``ClockReading``. The check's state comes from the answer with the smallest round-trip delay
(the most precise one): ``ok`` when its ``|offset|`` is at most
``MAMORI_CLOCK_MAX_OFFSET_MS``, ``offset`` above it, ``unknown`` when no server answered usably
(the reason names each server's failure). A change of state goes through
``actions.change_clock_state`` (provider-log event + alert mail to the security officers,
once per change).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mamori.monitoring import sntp
from mamori.monitoring.models import ClockReading, ClockState

READING_RETENTION_DAYS = 30


def evaluate(readings: list[ClockReading]) -> tuple[str, ClockReading | None, str]:
    """(state, the reading used or None, reason) for one round of readings."""
    answered = [r for r in readings if r.ok]
    if not answered:
        reason = "; ".join(f"{r.server}: {r.error}" for r in readings) or "no NTP server configured"
        return ClockState.State.UNKNOWN, None, reason[:500]
    best = min(answered, key=lambda r: r.delay_ms if r.delay_ms is not None else float("inf"))
    limit = settings.MAMORI_CLOCK_MAX_OFFSET_MS
    if abs(best.offset_ms) > limit:
        return ClockState.State.OFFSET, best, f"|offset| {abs(best.offset_ms):.1f} ms > {limit} ms"
    return ClockState.State.OK, best, f"|offset| {abs(best.offset_ms):.1f} ms ≤ {limit} ms"


def measure_clock(now: datetime | None = None, servers: list[str] | None = None) -> ClockState:
    """Query every configured server once, store the readings, update the state."""
    from mamori.monitoring.actions import change_clock_state

    now = now or timezone.now()
    servers = list(settings.MAMORI_NTP_SERVERS if servers is None else servers)
    readings = []
    for server in servers:
        try:
            result = sntp.query(server)
            readings.append(ClockReading(server=server[:255], at=now, ok=True, offset_ms=result.offset_ms,
                                         delay_ms=result.delay_ms))
        except sntp.SntpError as exc:
            readings.append(ClockReading(server=server[:255], at=now, ok=False, error=str(exc)[:300]))
        except Exception as exc:  # noqa: BLE001 — the check reports, never crashes the worker
            readings.append(ClockReading(server=server[:255], at=now, ok=False,
                                         error=f"unexpected error: {exc.__class__.__name__}"))
    ClockReading.objects.bulk_create(readings)
    ClockReading.objects.filter(at__lt=now - timedelta(days=READING_RETENTION_DAYS)).delete()
    state, used, reason = evaluate(readings)
    offset = used.offset_ms if used else None
    server = used.server if used else ""
    current = ClockState.objects.filter(pk=1).first()
    if current is None or current.state != state:
        return change_clock_state(state=state, offset_ms=offset, server=server, reason=reason, now=now)
    ClockState.objects.filter(pk=1).update(checked_at=now, offset_ms=offset, server=server, reason=reason)
    current.refresh_from_db()
    return current
