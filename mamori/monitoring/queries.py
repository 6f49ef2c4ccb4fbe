"""Reads of mamori.monitoring: component states, 90-day uptime, clock state, readiness facts.

Component state (status page, provider console, metrics):

- from the probes of the last ``RECENT`` minutes: none → ``unknown``; the newest failed and the
  one before too → ``outage``; any failure in the window → ``degraded``; else ``operational``;
- then open incidents naming the component (severity critical/major → ``outage``, others →
  ``degraded``) and maintenance in progress (``maintenance``) can only make it worse.

Uptime of a day = (checks − failures) / checks of that day's probes (1 probe a minute); days
without any probe (no worker) are shown as "no data" and left out of the percentage rather
than counted as up or down. 90-day uptime = aggregates (``UptimeDay``) + raw rows not yet
rolled up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.monitoring.components import COMPONENTS
from mamori.monitoring.models import ClockReading, ClockState, ProbeResult, UptimeDay

RECENT = timedelta(minutes=5)
UPTIME_DAYS = 90
OPERATIONAL, UNKNOWN, MAINTENANCE, DEGRADED, OUTAGE = "operational", "unknown", "maintenance", "degraded", "outage"
_RANK = {OPERATIONAL: 0, UNKNOWN: 1, MAINTENANCE: 2, DEGRADED: 3, OUTAGE: 4}
STATE_LABELS = {
    OPERATIONAL: _("Operational"),
    UNKNOWN: _("No recent data"),
    MAINTENANCE: _("Under maintenance"),
    DEGRADED: _("Degraded"),
    OUTAGE: _("Outage"),
}
OUTAGE_SEVERITIES = frozenset({"critical", "major", "high", "sev1"})
CELL_WIDTH, CELL_GAP = 3, 1


def worst(states) -> str:
    states = list(states)
    return max(states, key=_RANK.__getitem__) if states else UNKNOWN


def _probe_state(rows: list[ProbeResult]) -> str:
    if not rows:
        return UNKNOWN
    if not rows[0].ok and len(rows) > 1 and not rows[1].ok:
        return OUTAGE
    if any(not row.ok for row in rows):
        return DEGRADED
    return OPERATIONAL


def recent_probes(now: datetime | None = None) -> dict[str, list[ProbeResult]]:
    now = now or timezone.now()
    grouped: dict[str, list[ProbeResult]] = {key: [] for key in COMPONENTS}
    for row in ProbeResult.objects.filter(at__gte=now - RECENT, at__lte=now).order_by("-at", "-id"):
        grouped.setdefault(row.component, []).append(row)
    return grouped


def latest_probes() -> dict[str, ProbeResult | None]:
    return {key: ProbeResult.objects.filter(component=key).order_by("-at", "-id").first() for key in COMPONENTS}


def _open(incident: dict) -> bool:
    return not incident.get("resolved_at") and str(incident.get("state", "")).lower() not in ("resolved", "closed")


def _in_progress(notice: dict, now: datetime) -> bool:
    starts, ends = notice.get("starts_at"), notice.get("ends_at")
    return bool(starts and starts <= now and (ends is None or now < ends))


@dataclass(frozen=True)
class ComponentStatus:
    key: str
    label: object
    state: str
    state_label: object
    probe_state: str
    last_probe: ProbeResult | None
    reasons: tuple[str, ...]


def component_states(now: datetime | None = None, *, incidents=None, notices=None) -> list[ComponentStatus]:
    now = now or timezone.now()
    probes = recent_probes(now)
    overlays: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for incident in incidents or []:
        if _open(incident):
            state = OUTAGE if str(incident.get("severity", "")).lower() in OUTAGE_SEVERITIES else DEGRADED
            for key in incident.get("components") or ():
                overlays[key].append((state, str(incident.get("title", ""))))
    for notice in notices or []:
        if _in_progress(notice, now):
            for key in notice.get("components") or ():
                overlays[key].append((MAINTENANCE, str(notice.get("title", ""))))
    result = []
    for key, label in COMPONENTS.items():
        rows = probes.get(key, [])
        probe_state = _probe_state(rows)
        state = worst([probe_state, *(s for s, _ in overlays[key])])
        if probe_state == UNKNOWN and overlays[key]:
            state = worst([s for s, _ in overlays[key]])
        result.append(ComponentStatus(key, label, state, STATE_LABELS[state], probe_state,
                                      rows[0] if rows else None, tuple(t for _, t in overlays[key])))
    return result


def overall_state(statuses: list[ComponentStatus]) -> str:
    states = [s.state for s in statuses]
    if states and all(s == UNKNOWN for s in states):
        return UNKNOWN
    return worst(s for s in states if s != UNKNOWN)


# --- Uptime ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DayCell:
    day: date
    checks: int
    failures: int
    downtime_minutes: int
    x: int  # position in the bar (SVG user units)

    @property
    def uptime(self) -> Decimal | None:
        if not self.checks:
            return None
        return percent(self.checks - self.failures, self.checks)

    @property
    def css(self) -> str:
        if not self.checks:
            return "up-none"
        if not self.failures:
            return "up-full"
        return "up-partial" if self.uptime >= Decimal("99") else "up-poor"


def percent(good: int, total: int) -> Decimal:
    """Percentage floored to 2 decimals (99.999… is shown as 99.99, never 100.00)."""
    return (Decimal(good) * 100 / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def uptime_days(now: datetime | None = None, days: int = UPTIME_DAYS) -> dict[str, list[DayCell]]:
    """For each component, ``days`` cells oldest first, the last one today (UTC)."""
    now = (now or timezone.now()).astimezone(UTC)
    first = now.date() - timedelta(days=days - 1)
    totals: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in UptimeDay.objects.filter(day__gte=first, day__lte=now.date()):
        cell = totals[(row.component, row.day)]
        cell[0] += row.checks
        cell[1] += row.failures
        cell[2] += row.downtime_minutes
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    raw = (ProbeResult.objects.filter(at__gte=start, at__lte=now).annotate(day=TruncDate("at", tzinfo=UTC))
           .values("component", "day").annotate(checks=Count("id"), failures=Count("id", filter=Q(ok=False))))
    for row in raw:
        cell = totals[(row["component"], row["day"])]
        cell[0] += row["checks"]
        cell[1] += row["failures"]
        cell[2] += row["failures"]  # one probe a minute: a failed probe is a down minute
    result = {}
    for key in COMPONENTS:
        cells = []
        for i in range(days):
            day = first + timedelta(days=i)
            checks, failures, down = totals.get((key, day), (0, 0, 0))
            cells.append(DayCell(day, checks, failures, min(down, 24 * 60), i * (CELL_WIDTH + CELL_GAP)))
        result[key] = cells
    return result


def uptime_percentages(cells_by_component: dict[str, list[DayCell]]) -> dict[str, Decimal | None]:
    result = {}
    for key, cells in cells_by_component.items():
        checks = sum(c.checks for c in cells)
        failures = sum(c.failures for c in cells)
        result[key] = percent(checks - failures, checks) if checks else None
    return result


# --- Clock ----------------------------------------------------------------------------------------

def clock_state() -> ClockState | None:
    return ClockState.objects.filter(pk=1).first()


def recent_clock_readings(limit: int = 20) -> list[ClockReading]:
    return list(ClockReading.objects.order_by("-at", "-id")[:limit])


def probe_history(limit: int = 60) -> list[ProbeResult]:
    return list(ProbeResult.objects.order_by("-at", "component")[:limit])


def worker_heartbeat() -> datetime | None:
    return (ProbeResult.objects.filter(component="worker", ok=True).order_by("-at")
            .values_list("at", flat=True).first())
