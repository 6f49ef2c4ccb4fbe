"""Control checks of monitoring: status (probes recording), 12.1.3 (metrics), 12.4.4 (clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from mamori.compliance import registry, runner
from mamori.monitoring import metrics, probes
from mamori.monitoring.clock import measure_clock
from mamori.monitoring.models import ClockReading, ClockState, ProbeResult


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):  # the summaries are compared in English
        yield


def run(key: str):
    registry.load_checks()
    item = registry.get(key)
    assert item is not None and item.check.__module__ == "mamori.compliance.checks.monitoring"
    return runner.run_one(item)


def english(outcome) -> str:
    """The English summary (the runner writes one per language, the default language first)."""
    return (getattr(outcome, "summaries", None) or {}).get("en", outcome.summary)


@pytest.fixture
def metrics_settings(settings):
    settings.MAMORI_METRICS_TOKEN = ""
    settings.MAMORI_METRICS_ALLOW = ["127.0.0.1/32"]
    metrics._allowed_networks.cache_clear()
    yield settings
    metrics._allowed_networks.cache_clear()


def test_registered_in_their_sections():
    registry.load_checks()
    assert registry.get("status").section == "status"
    assert registry.get("12.1.3").section == "capacity"
    assert registry.get("12.4.4").section == "clock"


def test_status_passes_with_fresh_probes(db):
    probes.run_probes()
    outcome = run("status")
    assert outcome.status == "pass", outcome.summary
    assert set(outcome.evidence["last_probe"]) == {"console", "api", "database", "storage", "mail", "worker"}
    assert outcome.evidence["uptime_90d_percent"]["database"] == "100.00"


def test_status_fails_without_probes_and_with_a_stale_component(db):
    outcome = run("status")
    assert outcome.status == "fail" and "worker" in outcome.evidence["stale"]
    probes.run_probes()
    ProbeResult.objects.filter(component="mail").update(at=timezone.now() - timedelta(minutes=6))
    outcome = run("status")
    assert outcome.status == "fail" and outcome.evidence["stale"] == ["mail"]
    assert "mail" in english(outcome)


def test_metrics_pass_with_allowlist(db, metrics_settings):
    outcome = run("12.1.3")
    assert outcome.status == "pass", outcome.summary
    assert outcome.evidence["protection"] == "allowlist"
    assert outcome.evidence["unauthorised_status"] == 404 and outcome.evidence["authorised_status"] == 200
    assert "mamori_tenant_storage_bytes" in outcome.evidence["metric_families"]


def test_metrics_pass_with_token(db, metrics_settings):
    metrics_settings.MAMORI_METRICS_TOKEN = "a-long-metrics-token-for-the-check"
    metrics_settings.MAMORI_METRICS_ALLOW = []
    outcome = run("12.1.3")
    assert outcome.status == "pass", outcome.summary
    assert outcome.evidence["protection"] == "token"
    assert "a-long-metrics-token" not in str(outcome.evidence) + str(getattr(outcome, "summaries", "")) + outcome.summary


def test_metrics_fail_when_open_to_all_or_closed(db, metrics_settings):
    metrics_settings.MAMORI_METRICS_ALLOW = ["0.0.0.0/0"]
    metrics._allowed_networks.cache_clear()
    assert run("12.1.3").status == "fail"
    metrics_settings.MAMORI_METRICS_ALLOW = []
    metrics._allowed_networks.cache_clear()
    outcome = run("12.1.3")
    assert outcome.status == "fail" and outcome.evidence["protection"] == "closed"


def test_clock_passes_within_threshold(db, sntp_server):
    measure_clock(servers=[sntp_server.address])
    outcome = run("12.4.4")
    assert outcome.status == "pass", outcome.summary
    assert outcome.evidence["server"] == sntp_server.address
    assert abs(outcome.evidence["offset_ms"]) < 100 and outcome.evidence["measured_at"]


def test_clock_fails_above_threshold(db, sntp_server):
    sntp_server.offset = -4.0
    measure_clock(servers=[sntp_server.address])
    outcome = run("12.4.4")
    assert outcome.status == "fail" and outcome.evidence["state"] == "offset"
    assert "above the 1000 ms threshold" in english(outcome)


def test_clock_fails_with_reason_when_unknown_or_old(db, closed_udp_port, monkeypatch):
    from mamori.monitoring import sntp

    outcome = run("12.4.4")
    assert outcome.status == "fail" and "No clock reading in the last 30 minutes" in english(outcome)
    monkeypatch.setattr(sntp, "TIMEOUT", 0.3)
    measure_clock(servers=[closed_udp_port])
    outcome = run("12.4.4")
    assert outcome.status == "fail" and closed_udp_port in outcome.summary
    assert ClockState.objects.get().state == "unknown"
    ClockReading.objects.update(at=timezone.now() - timedelta(minutes=31))
    assert "30 minutes" in english(run("12.4.4"))
