"""Prometheus metrics at ``/metrics`` (ISO/IEC 27002 12.1.3), in a dedicated registry.

Two kinds of metric:

- **per process**, counted as requests are served (``RequestMetricsMiddleware``):
  ``mamori_http_requests_total`` and ``mamori_http_request_duration_seconds`` by route (the
  resolver's view name such as ``console:records`` — never the raw path, which would carry ids
  and make unbounded label sets), method and status class. They live in ``REQUEST_REGISTRY``,
  not in prometheus_client's global default registry. With several worker processes
  (gunicorn), set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the processes:
  the values are then kept in files there and every scrape aggregates all processes
  (prometheus_client's multiprocess mode; see docs/operations/monitoring.md).
- **read from the database on each scrape** (cheap queries; ``DatabaseCollector``): task queue
  depth and age of the oldest waiting task, sign-in failures of the last hour, storage per
  tenant (from the ``TenantUsage`` cache a periodic job fills), probe up/latency per
  component, clock offset and state.

Access: ``Authorization: Bearer <MAMORI_METRICS_TOKEN>`` (constant-time comparison) or a client
address inside ``MAMORI_METRICS_ALLOW`` (client address from ``mamori.core.net``: trusted
proxies honoured). Anything else gets the same 404 as an unknown URL.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from functools import lru_cache

from django.conf import settings
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mamori.core.net import client_address

REQUEST_REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("mamori_http_requests", "HTTP requests served, by route name, method and status class",
                   ["route", "method", "status"], registry=REQUEST_REGISTRY)
LATENCY = Histogram("mamori_http_request_duration_seconds", "Time to answer an HTTP request, by route name",
                    ["route", "method"], registry=REQUEST_REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SIGNIN_WINDOW_SECONDS = 3600


def route_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "static" if request.path.startswith(settings.STATIC_URL or "/static/") else "unmatched"
    return (match.view_name or "unnamed")[:100]


class RequestMetricsMiddleware:
    """Counts every request by route name (place it first in ``MIDDLEWARE``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        route = route_name(request)
        if route == "monitoring:metrics":  # the scrape itself is not a request of the service
            return response
        method = request.method if request.method in _METHODS else "OTHER"
        status = f"{response.status_code // 100}xx"
        children = _children.get((route, method, status))
        if children is None:  # label lookups take a lock and build keys: once per combination
            children = _children[(route, method, status)] = (
                LATENCY.labels(route, method), REQUESTS.labels(route, method, status))
        children[0].observe(time.perf_counter() - start)
        children[1].inc()
        return response


# (route, method, status class) → (latency child, counter child); bounded by the URLconf's
# route names × 8 methods × 5 status classes ("unmatched" for everything without a route).
_children: dict[tuple[str, str, str], tuple] = {}


# --- Access ---------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _allowed_networks(values: tuple[str, ...]):
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise RuntimeError(f"MAMORI_METRICS_ALLOW: {value!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def allowed_networks():
    return _allowed_networks(tuple(settings.MAMORI_METRICS_ALLOW or ()))


def protection_mode() -> str:
    token = bool(settings.MAMORI_METRICS_TOKEN)
    networks = bool(allowed_networks())
    return {(True, True): "token+allowlist", (True, False): "token", (False, True): "allowlist"}.get(
        (token, networks), "closed")


def access_granted(request) -> str | None:
    """How the request may read the metrics ("token", "allowlist"), or None."""
    token = settings.MAMORI_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[7:].strip().encode(), token.encode()):
            return "token"
    address = client_address(request)
    if address is not None and any(address.version == net.version and address in net
                                   for net in allowed_networks()):
        return "allowlist"
    return None


# --- Database-backed metrics -------------------------------------------------------------------------

class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (a handful of indexed queries)."""

    def collect(self):
        yield from _queue_metrics()
        yield from _signin_metrics()
        yield from _storage_metrics()
        yield from _probe_metrics()
        yield from _clock_metrics()


def _queue_metrics():
    from django.db.models import Count, Min
    from django_tasks_db.models import DBTaskResult

    depth = GaugeMetricFamily("mamori_task_queue_depth", "Tasks waiting to run, by queue", labels=["queue"])
    age = GaugeMetricFamily("mamori_task_queue_oldest_age_seconds",
                            "Age of the oldest task waiting to run, by queue", labels=["queue"])
    running = GaugeMetricFamily("mamori_tasks_running", "Tasks running now, by queue", labels=["queue"])
    now = timezone.now()
    waiting = (DBTaskResult.objects.ready().values("queue_name")
               .annotate(n=Count("id"), oldest=Min("enqueued_at")))
    seen = set()
    for row in waiting:
        seen.add(row["queue_name"])
        depth.add_metric([row["queue_name"]], row["n"])
        age.add_metric([row["queue_name"]], max(0.0, (now - row["oldest"]).total_seconds()))
    for queue in settings.TASKS.get("default", {}).get("QUEUES", ["default"]):
        if queue not in seen:
            depth.add_metric([queue], 0)
            age.add_metric([queue], 0)
    for row in DBTaskResult.objects.running().values("queue_name").annotate(n=Count("id")):
        running.add_metric([row["queue_name"]], row["n"])
    yield depth
    yield age
    yield running


def _signin_metrics():
    from datetime import timedelta

    from django.db.models import Sum

    from mamori.audit.models import ProviderEvent
    from mamori.monitoring.models import TenantUsage

    family = GaugeMetricFamily(
        "mamori_signin_failures_last_hour",
        "Failed sign-ins in the last hour: tenant users (from the usage job) and provider staff",
        labels=["population"])
    tenants = TenantUsage.objects.aggregate(n=Sum("signin_failures_last_hour"))["n"] or 0
    staff = ProviderEvent.objects.filter(action="provider.login_failed",
                                         occurred_at__gte=timezone.now() - timedelta(seconds=SIGNIN_WINDOW_SECONDS)).count()
    family.add_metric(["tenant_users"], tenants)
    family.add_metric(["provider_staff"], staff)
    yield family


def _storage_metrics():
    from mamori.monitoring.models import TenantUsage

    size = GaugeMetricFamily("mamori_tenant_storage_bytes", "Bytes stored under each tenant's storage prefix",
                             labels=["tenant_id"])
    files = GaugeMetricFamily("mamori_tenant_storage_files", "Files stored under each tenant's storage prefix",
                              labels=["tenant_id"])
    measured = GaugeMetricFamily("mamori_tenant_usage_measured_timestamp_seconds",
                                 "When the per-tenant usage was last measured (Unix time)")
    newest = None
    for row in TenantUsage.objects.order_by("tenant_id"):
        size.add_metric([str(row.tenant_id)], row.storage_bytes)
        files.add_metric([str(row.tenant_id)], row.files)
        newest = max(newest, row.measured_at) if newest else row.measured_at
    yield size
    yield files
    if newest:
        measured.add_metric([], newest.timestamp())
        yield measured


def _probe_metrics():
    from mamori.monitoring.queries import latest_probes

    up = GaugeMetricFamily("mamori_probe_up", "1 when the newest probe of the component passed", labels=["component"])
    latency = GaugeMetricFamily("mamori_probe_latency_seconds", "Duration of the newest probe", labels=["component"])
    when = GaugeMetricFamily("mamori_probe_timestamp_seconds", "Time of the newest probe (Unix time)",
                             labels=["component"])
    for key, row in latest_probes().items():
        if row is None:
            continue
        up.add_metric([key], 1 if row.ok else 0)
        latency.add_metric([key], row.latency_ms / 1000)
        when.add_metric([key], row.at.timestamp())
    yield up
    yield latency
    yield when


def _clock_metrics():
    from mamori.monitoring.models import ClockState

    state = ClockState.objects.filter(pk=1).first()
    family = GaugeMetricFamily("mamori_clock_state", "Clock check state (1 for the current one)", labels=["state"])
    for value in ClockState.State.values:
        family.add_metric([value], 1 if state and state.state == value else 0)
    yield family
    if state and state.offset_ms is not None:
        offset = GaugeMetricFamily("mamori_clock_offset_seconds",
                                   "Offset of the NTP server's clock from ours (positive: ours is slow)")
        offset.add_metric([], state.offset_ms / 1000)
        yield offset
    limit = GaugeMetricFamily("mamori_clock_max_offset_seconds", "Alert threshold of the clock check")
    limit.add_metric([], settings.MAMORI_CLOCK_MAX_OFFSET_MS / 1000)
    yield limit


def render_metrics() -> bytes:
    """The exposition text: request metrics (this process, or all processes in multiprocess
    mode) followed by the database-backed gauges."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return request_metrics_text() + generate_latest(database)


def request_metrics_text() -> bytes:
    """The request counters and histograms: of this process, or summed over every process
    that wrote to ``PROMETHEUS_MULTIPROC_DIR``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REQUEST_REGISTRY)


def metric_families(text: str) -> list[str]:
    """Names of the metric families in an exposition text (for the control evidence)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sorted({family.name for family in text_string_to_metric_families(text)})
