"""Status page probes, capacity metrics and clock synchronisation (status, 12.1.3, 12.4.4):
read from what the monitoring app measured (mamori.monitoring)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import CheckResult, control

PROBE_MAX_AGE = timedelta(minutes=5)
CLOCK_MAX_AGE = timedelta(minutes=30)
OUTSIDE_ADDRESS = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never a real client
REQUIRED_FAMILIES = ("mamori_http_requests", "mamori_http_request_duration_seconds", "mamori_task_queue_depth",
                     "mamori_task_queue_oldest_age_seconds", "mamori_signin_failures_last_hour",
                     "mamori_tenant_storage_bytes", "mamori_probe_up", "mamori_clock_state")


@control("status", _("Status page uptime measured by probes of every component"), section="status")
def probes_recording() -> CheckResult:
    from mamori.monitoring.components import COMPONENTS
    from mamori.monitoring.queries import latest_probes, uptime_days, uptime_percentages

    now = timezone.now()
    latest = latest_probes()
    uptime = uptime_percentages(uptime_days(now))
    evidence = {
        "last_probe": {key: ({"at": row.at.isoformat(), "ok": row.ok, "latency_ms": row.latency_ms}
                             if row else None) for key, row in latest.items()},
        "uptime_90d_percent": {key: (str(value) if value is not None else None) for key, value in uptime.items()},
    }
    stale = [key for key in COMPONENTS if latest[key] is None or now - latest[key].at > PROBE_MAX_AGE]
    if stale:
        return CheckResult.failed(_("No probe result in the last 5 minutes for: %(components)s (is mamori worker "
                                    "running?).") % {"components": ", ".join(stale)}, stale=stale, **evidence)
    return CheckResult.passed(_("Every component (%(n)d) was probed in the last 5 minutes; 90-day uptime: "
                                "%(uptime)s.") % {"n": len(COMPONENTS), "uptime": ", ".join(
                                    f"{key} {value}%" for key, value in uptime.items() if value is not None)},
                              **evidence)


def _scrape(**headers):
    from django.test import Client

    return Client(raise_request_exception=False).get("/metrics", **headers)


@control("12.1.3", _("Capacity metrics served to the provider's monitoring, protected"), section="capacity")
def metrics_served() -> CheckResult:
    from mamori.monitoring.metrics import allowed_networks, metric_families, protection_mode

    mode = protection_mode()
    networks = [str(net) for net in allowed_networks()]
    evidence = {"protection": mode, "allow": networks, "token_configured": bool(settings.MAMORI_METRICS_TOKEN)}
    open_to_all = [net for net in allowed_networks() if net.prefixlen == 0]
    if open_to_all:
        return CheckResult.failed(_("MAMORI_METRICS_ALLOW admits every address (%(nets)s): the metrics are not "
                                    "protected.") % {"nets": ", ".join(map(str, open_to_all))}, **evidence)
    if mode == "closed":
        return CheckResult.failed(_("Neither MAMORI_METRICS_TOKEN nor MAMORI_METRICS_ALLOW is set: nobody can "
                                    "scrape the metrics."), **evidence)
    refused = _scrape(REMOTE_ADDR=OUTSIDE_ADDRESS)
    evidence["unauthorised_status"] = refused.status_code
    outside_allowed = any(ipaddress.ip_address(OUTSIDE_ADDRESS) in net for net in allowed_networks() if net.version == 4)
    if refused.status_code != 404 and not outside_allowed:
        return CheckResult.failed(_("/metrics answered %(status)d to a request without credentials from outside "
                                    "the allowlist (expected 404).") % {"status": refused.status_code}, **evidence)
    if settings.MAMORI_METRICS_TOKEN:
        response = _scrape(REMOTE_ADDR=OUTSIDE_ADDRESS, HTTP_AUTHORIZATION=f"Bearer {settings.MAMORI_METRICS_TOKEN}")
    else:
        net = allowed_networks()[0]
        response = _scrape(REMOTE_ADDR=str(next(iter(net.hosts()), net.network_address)))
    evidence["authorised_status"] = response.status_code
    if response.status_code != 200:
        return CheckResult.failed(_("/metrics answered %(status)d to an authorised scrape.")
                                  % {"status": response.status_code}, **evidence)
    families = metric_families(response.content.decode())
    evidence["metric_families"] = families
    missing = [name for name in REQUIRED_FAMILIES if name not in families]
    if missing:
        return CheckResult.failed(_("/metrics is missing %(names)s.") % {"names": ", ".join(missing)},
                                  missing=missing, **evidence)
    return CheckResult.passed(_("/metrics serves %(n)d metric families (requests, latency, task queue, sign-in "
                                "failures, storage per tenant, probes, clock), protected by %(mode)s; other "
                                "clients get 404.") % {"n": len(families), "mode": mode}, **evidence)


@control("12.4.4", _("Clock offset measured against NTP servers and within the threshold"), section="clock")
def clock_within_threshold() -> CheckResult:
    from mamori.monitoring.models import ClockReading, ClockState
    from mamori.monitoring.queries import clock_state

    limit = settings.MAMORI_CLOCK_MAX_OFFSET_MS
    state = clock_state()
    evidence = {"servers": list(settings.MAMORI_NTP_SERVERS), "threshold_ms": limit}
    newest = ClockReading.objects.order_by("-at").values_list("at", flat=True).first()
    if state is None or newest is None or timezone.now() - newest > CLOCK_MAX_AGE:
        evidence["last_reading_at"] = newest.isoformat() if newest else None
        return CheckResult.failed(_("No clock reading in the last 30 minutes (is mamori worker running? "
                                    "MAMORI_NTP_SERVERS reachable?)."), **evidence)
    evidence.update(server=state.server, offset_ms=state.offset_ms, measured_at=state.checked_at.isoformat(),
                    state=state.state, reason=state.reason)
    if state.state == ClockState.State.UNKNOWN:
        return CheckResult.failed(_("No NTP server answered: %(reason)s") % {"reason": state.reason}, **evidence)
    if state.state == ClockState.State.OFFSET:
        return CheckResult.failed(_("The clock is %(offset).1f ms off %(server)s, above the %(limit)d ms threshold.")
                                  % {"offset": state.offset_ms, "server": state.server, "limit": limit}, **evidence)
    return CheckResult.passed(_("The clock is %(offset).1f ms off %(server)s (threshold %(limit)d ms), measured "
                                "%(at)s UTC.") % {"offset": state.offset_ms, "server": state.server, "limit": limit,
                                                  "at": state.checked_at.strftime("%Y-%m-%d %H:%M")}, **evidence)
