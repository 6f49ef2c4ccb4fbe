"""/metrics: protection (token, allowlist, trusted proxies), content, dedicated registry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.monitoring import metrics, probes
from mamori.monitoring.usage import measure_tenant_usage
from mamori.tenancy.context import use_tenant

TOKEN = "metrics-token-0123456789abcdef"  # noqa: S105 (test value)
OUTSIDE = "198.51.100.7"


@pytest.fixture
def protected(settings):
    settings.MAMORI_METRICS_TOKEN = TOKEN
    settings.MAMORI_METRICS_ALLOW = ["127.0.0.1/32", "::1/128"]
    metrics._allowed_networks.cache_clear()
    yield settings
    metrics._allowed_networks.cache_clear()


def _normalised(response, path: str) -> str:
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return body.replace(path, "PATH")


def _scrape(**extra):
    return Client().get("/metrics", **extra)


def _families(response) -> dict:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def _samples(family, **labels):
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


@pytest.mark.parametrize("headers", [
    {},
    {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
    {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"},
    {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
    {"HTTP_AUTHORIZATION": TOKEN},
    {"HTTP_X_FORWARDED_FOR": "127.0.0.1"},  # the peer is no trusted proxy: the header is ignored
])
def test_refused_with_the_same_404_as_an_unknown_url(db, protected, headers):
    response = _scrape(REMOTE_ADDR=OUTSIDE, **headers)
    unknown = Client().get("/no-such-page", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 404 == unknown.status_code
    assert _normalised(response, "/metrics") == _normalised(unknown, "/no-such-page")
    assert Client().post("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404


def test_token_or_allowlisted_address(db, protected):
    assert _scrape(REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert _scrape(REMOTE_ADDR="127.0.0.1").status_code == 200
    assert _scrape(REMOTE_ADDR="::1").status_code == 200
    assert Client().post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405
    assert "no-cache" in _scrape(REMOTE_ADDR="127.0.0.1")["Cache-Control"]


def test_no_token_configured_means_no_token_access(db, settings):
    settings.MAMORI_METRICS_TOKEN = ""
    settings.MAMORI_METRICS_ALLOW = []
    metrics._allowed_networks.cache_clear()
    assert _scrape(REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert _scrape(REMOTE_ADDR="127.0.0.1").status_code == 404
    assert metrics.protection_mode() == "closed"


def test_client_address_behind_a_trusted_proxy(db, protected):
    protected.MAMORI_TRUSTED_PROXIES = ["10.0.0.0/8"]
    allowed = _scrape(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert allowed.status_code == 200
    refused = _scrape(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=f"127.0.0.1, {OUTSIDE}")
    assert refused.status_code == 404  # the right-most untrusted hop is the client


def test_request_metrics_by_route_name_never_by_path(db, protected, tenant):
    Client().get("/status")
    Client().get("/status")
    Client().get(f"/t/{tenant.slug}/no-such-page-123")
    assert Client().get("/static/monitoring/status.css").status_code == 200
    families = _families(_scrape(REMOTE_ADDR="127.0.0.1"))
    requests = families["mamori_http_requests"]
    status = _samples(requests, route="monitoring:status", method="GET", status="2xx")
    assert status and status[0].value >= 2
    routes = {s.labels["route"] for s in requests.samples}
    assert not any("/" in route for route in routes), routes
    assert "unmatched" in routes or any(r.startswith("console:") for r in routes)
    assert "monitoring:metrics" not in routes  # the scrape does not count itself
    assert _samples(requests, route="static", status="2xx")
    histogram = families["mamori_http_request_duration_seconds"]
    assert _samples(histogram, route="monitoring:status", le="+Inf")


def test_dedicated_registry_not_the_global_default():
    assert "mamori_http_requests" not in {m.name for m in REGISTRY.collect()}
    assert metrics.REQUESTS in metrics.REQUEST_REGISTRY._collector_to_names


def test_database_metrics(db, protected, tenant, admin):
    from django_tasks_db.models import DBTaskResult

    from mamori.monitoring.tasks import clock_check_task

    probes.run_probes()
    clock_check_task.enqueue()
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(seconds=90))
    default_storage.save(f"tenants/{tenant.pk}/attachments/a.bin", ContentFile(b"x" * 1234))
    with use_tenant(tenant):
        for _ in range(3):
            record_event("auth.login_failed", actor=Actor.anonymous("x@example.com"), after={"reason": "password"})
    record_provider_event("provider.login_failed", actor=Actor.system("test"), after={"email": "ops@example.com"})
    assert measure_tenant_usage() >= 1
    families = _families(_scrape(REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))

    depth = _samples(families["mamori_task_queue_depth"], queue="default")
    assert depth[0].value >= 1
    assert _samples(families["mamori_task_queue_oldest_age_seconds"], queue="default")[0].value >= 89
    signin = families["mamori_signin_failures_last_hour"]
    assert _samples(signin, population="tenant_users")[0].value == 3
    assert _samples(signin, population="provider_staff")[0].value == 1
    storage = _samples(families["mamori_tenant_storage_bytes"], tenant_id=str(tenant.pk))
    assert storage[0].value == 1234
    assert {s.labels["tenant_id"] for s in families["mamori_tenant_storage_bytes"].samples} <= {
        str(pk) for pk in type(tenant).objects.values_list("pk", flat=True)}
    assert tenant.slug not in _scrape(REMOTE_ADDR="127.0.0.1").content.decode()
    up = families["mamori_probe_up"]
    assert {s.labels["component"]: s.value for s in up.samples} == {
        "console": 1, "api": 1, "database": 1, "storage": 1, "mail": 1, "worker": 1}
    assert _samples(families["mamori_probe_latency_seconds"], component="database")[0].value >= 0
    assert "mamori_clock_state" in families and "mamori_clock_max_offset_seconds" in families
    default_storage.delete(f"tenants/{tenant.pk}/attachments/a.bin")


def test_clock_offset_metric(db, protected, sntp_server):
    from mamori.monitoring.clock import measure_clock

    sntp_server.offset = 2.0
    measure_clock(servers=[sntp_server.address])
    families = _families(_scrape(REMOTE_ADDR="127.0.0.1"))
    assert families["mamori_clock_offset_seconds"].samples[0].value == pytest.approx(2.0, abs=0.05)
    assert _samples(families["mamori_clock_state"], state="offset")[0].value == 1
    assert _samples(families["mamori_clock_state"], state="ok")[0].value == 0


def test_usage_forgets_purged_tenants(db, tenant):
    from mamori.monitoring.models import TenantUsage
    from mamori.tenancy.models import Tenant

    measure_tenant_usage()
    assert TenantUsage.objects.filter(tenant_id=tenant.pk).exists()
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.PURGED)
    measure_tenant_usage()
    assert not TenantUsage.objects.filter(tenant_id=tenant.pk).exists()


def test_multiprocess_mode_sums_every_process(tmp_path):
    """Two processes count requests into PROMETHEUS_MULTIPROC_DIR; a third one's scrape sees both."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "mamori.settings"}
    count = ("import django; django.setup()\n"
             "from mamori.monitoring.metrics import REQUESTS, LATENCY\n"
             "for _ in range({n}): REQUESTS.labels('console:records', 'GET', '2xx').inc(); "
             "LATENCY.labels('console:records', 'GET').observe(0.02)\n")
    for n in (3, 2):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True, timeout=120)
    scrape = ("import django; django.setup()\n"
              "from mamori.monitoring.metrics import request_metrics_text\n"
              "import sys; sys.stdout.write(request_metrics_text().decode())\n")
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=120,
                          capture_output=True, text=True).stdout
    families = {f.name: f for f in text_string_to_metric_families(text)}
    total = _samples(families["mamori_http_requests"], route="console:records", status="2xx")
    assert [s.value for s in total if s.name == "mamori_http_requests_total"] == [5.0]
    count_samples = [s for s in families["mamori_http_request_duration_seconds"].samples
                     if s.name.endswith("_count") and s.labels.get("route") == "console:records"]
    assert count_samples[0].value == 5.0
    assert len(os.listdir(tmp_path)) >= 2  # one file per process and metric type
