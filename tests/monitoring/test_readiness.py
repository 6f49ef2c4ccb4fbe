"""/healthz (liveness) and /readyz (database, migrations, storage, worker heartbeat, clock)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from mamori.core import views
from mamori.monitoring import probes
from mamori.monitoring.clock import measure_clock
from mamori.monitoring.models import ClockState, ProbeResult


@pytest.fixture(autouse=True)
def _fresh_readiness_cache(monkeypatch):
    monkeypatch.setattr(views, "_migrations_applied", False)


def test_healthz_is_cheap(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_fresh_install_is_ready_with_warnings(db):
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["storage"] == {"status": "ok"}
    assert body["checks"]["worker"]["status"] == "unknown"
    assert "is mamori worker running" in body["checks"]["worker"]["reason"]
    assert body["checks"]["clock"]["status"] == "unknown"
    assert body["warnings"] == ["worker", "clock"]


def test_all_green_after_the_worker_ran(db, sntp_server):
    probes.run_probes()
    measure_clock(servers=[sntp_server.address])
    body = Client().get("/readyz").json()
    assert body["warnings"] == []
    assert body["checks"]["worker"]["status"] == "ok" and body["checks"]["worker"]["age_seconds"] <= 5
    clock = body["checks"]["clock"]
    assert clock["status"] == "ok" and abs(clock["offset_ms"]) < 100 and clock["max_offset_ms"] == 1000


def test_stale_heartbeat_and_clock_offset_are_named(db, sntp_server, settings):
    probes.run_probes(now=timezone.now() - timedelta(minutes=10))
    sntp_server.offset = 5.0
    measure_clock(servers=[sntp_server.address])
    response = Client().get("/readyz")
    assert response.status_code == 200  # the web tier can still serve
    body = response.json()
    assert body["warnings"] == ["worker", "clock"]
    assert body["checks"]["worker"]["status"] == "stale"
    assert body["checks"]["worker"]["reason"].startswith("last heartbeat 6")
    assert body["checks"]["clock"]["status"] == "offset"
    assert "> 1000 ms" in body["checks"]["clock"]["reason"]


def test_old_clock_check_is_stale(db, sntp_server):
    measure_clock(servers=[sntp_server.address])
    ClockState.objects.update(checked_at=timezone.now() - timedelta(hours=1))
    clock = Client().get("/readyz").json()["checks"]["clock"]
    assert clock["status"] == "stale" and "30 minutes" in clock["reason"]


def test_storage_failure_is_503_with_the_reason(db, monkeypatch):
    def broken_save(name, content, max_length=None):
        raise PermissionError(13, "Permission denied: /srv/secret-path")

    monkeypatch.setattr(default_storage, "save", broken_save)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"]["status"] == "error"
    assert body["checks"]["storage"]["reason"] == "PermissionError"
    assert body["checks"]["database"]["status"] == "ok"
    assert "secret-path" not in response.content.decode()  # the class name only, not the message


def test_worker_probe_failure_does_not_count_as_heartbeat(db):
    probes.run_probes(now=timezone.now() - timedelta(minutes=10))
    ProbeResult.objects.create(component="worker", ok=False, latency_ms=1, detail="x")
    assert Client().get("/readyz").json()["checks"]["worker"]["status"] == "stale"


def test_readyz_body_is_json_without_internals(db):
    response = Client().get("/readyz")
    text = response.content.decode()
    json.loads(text)
    for secret in ("SECRET_KEY", "password", "postgres://"):
        assert secret not in text
