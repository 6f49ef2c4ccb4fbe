"""Probes against the real components, the roll-up into daily uptime, the schedule."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from mamori.audit.models import ProviderEvent
from mamori.monitoring import probes, queries
from mamori.monitoring.actions import roll_up_probe_results
from mamori.monitoring.components import COMPONENTS
from mamori.monitoring.models import ProbeResult, UptimeDay

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_component_is_probed_and_passes(db):
    results = probes.run_probes()
    assert [r.component for r in results] == list(COMPONENTS)
    stored = {r.component: r for r in ProbeResult.objects.all()}
    assert set(stored) == set(COMPONENTS)
    failed = {key: r.detail for key, r in stored.items() if not r.ok}
    assert not failed
    assert stored["console"].detail == "/healthz 200"
    assert stored["api"].detail == "/api/v1/me 401 problem+json"
    assert stored["mail"].detail == "embedded outbox (no SMTP configured)"
    assert all(r.latency_ms >= 0 for r in stored.values())


def test_storage_probe_uses_a_provider_prefix_and_leaves_nothing(db):
    assert not probes.PROBE_PREFIX.startswith("tenants/")
    assert probes.probe_storage().ok
    _, files = default_storage.listdir(probes.PROBE_PREFIX.rstrip("/"))
    assert files == []


def test_a_failing_component_is_recorded_with_its_reason(db, monkeypatch):
    def broken_save(name, content, max_length=None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(default_storage, "save", broken_save)
    results = {r.component: r for r in probes.run_probes()}
    assert not results["storage"].ok
    assert results["storage"].detail.startswith("PermissionError")
    assert results["database"].ok


def test_storage_probe_detects_a_corrupt_read(db, monkeypatch):
    real_open = default_storage.open
    monkeypatch.setattr(default_storage, "open", lambda name, mode="rb": ContentFile(b"other bytes")
                        if name.startswith(probes.PROBE_PREFIX) else real_open(name, mode))
    outcome = probes.probe_storage()
    assert not outcome.ok and "differs" in outcome.detail


def test_slow_probe_counts_as_failed(db, monkeypatch):
    monkeypatch.setattr(probes, "PROBE_TIMEOUT", 0.0)
    outcome, latency = probes.run_probe("database")
    assert not outcome.ok and "slower than" in outcome.detail


class _Noop:
    async def handle_NOOP(self, server, session, envelope, arg):  # noqa: N802 — aiosmtpd's hook name
        return "250 OK"


def test_mail_probe_talks_smtp_to_a_loopback_server(db, settings):
    controller = aiosmtpd_controller.Controller(_Noop(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        outcome = probes.probe_mail()
    finally:
        controller.stop()
    assert outcome.ok and outcome.detail == f"SMTP 127.0.0.1:{controller.port} NOOP 250"


def test_mail_probe_fails_when_smtp_is_down(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    outcome, _ = probes.run_probe("mail")
    assert not outcome.ok and outcome.detail.startswith("ConnectionRefusedError")


@pytest.mark.django_db(transaction=True)
def test_http_probes_through_a_base_url(live_server, settings):
    settings.MAMORI_PROBE_BASE_URL = live_server.url
    assert probes.probe_console().ok
    assert probes.probe_api().ok
    settings.MAMORI_PROBE_BASE_URL = f"http://127.0.0.1:{_free_port()}"
    outcome, _ = probes.run_probe("console")
    assert not outcome.ok and "URLError" in outcome.detail
    settings.MAMORI_PROBE_BASE_URL = "file:///etc/passwd"
    outcome, _ = probes.run_probe("console")
    assert not outcome.ok and "http(s) URL" in outcome.detail


def test_roll_up_keeps_uptime_and_bounds_the_raw_rows(db, monkeypatch):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for days_ago in (5, 3, 1, 0):
        for minute in range(3):
            probes.run_probes(now=now - timedelta(days=days_ago, minutes=minute))
    # Real probe rows; one failed storage minute five days ago.
    ProbeResult.objects.filter(component="storage", at=now - timedelta(days=5, minutes=1)).update(ok=False)
    before = queries.uptime_percentages(queries.uptime_days(now))
    summary = roll_up_probe_results(now=now)
    assert summary["rows"] == 2 * 3 * len(COMPONENTS)
    assert summary["days"] == ["2026-11-15", "2026-11-17"]
    assert not ProbeResult.objects.filter(at__lt=datetime(2026, 11, 18, tzinfo=UTC)).exists()
    assert ProbeResult.objects.count() == 2 * 3 * len(COMPONENTS)
    storage_day = UptimeDay.objects.get(component="storage", day="2026-11-15")
    assert (storage_day.checks, storage_day.failures, storage_day.downtime_minutes) == (3, 1, 1)
    assert queries.uptime_percentages(queries.uptime_days(now)) == before
    assert str(before["storage"]) == "91.66"  # 11 of 12 checks, floored
    assert before["database"] == 100
    event = ProviderEvent.objects.get(action="monitoring.probes_rolled_up")
    assert event.after["rows"] == summary["rows"]
    # Running again moves nothing and double-counts nothing.
    assert roll_up_probe_results(now=now)["rows"] == 0
    assert UptimeDay.objects.get(component="storage", day="2026-11-15").checks == 3


def test_ninety_cells_oldest_first(db):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    probes.run_probes(now=now)
    cells = queries.uptime_days(now)["database"]
    assert len(cells) == 90
    assert cells[-1].day.isoformat() == "2026-11-20" and cells[-1].checks == 1 and cells[-1].css == "up-full"
    assert cells[0].day.isoformat() == "2026-08-23" and cells[0].css == "up-none"
    assert [c.x for c in cells[:3]] == [0, 4, 8]


def test_jobs_are_registered_with_the_scheduler():
    from mamori.core.schedule import registered_jobs

    jobs = registered_jobs()
    assert jobs["monitoring.probes"].every == timedelta(minutes=1)
    assert jobs["monitoring.clock"].every == timedelta(minutes=10)
    assert jobs["monitoring.probe_rollup"].every == timedelta(days=1)
    assert jobs["monitoring.tenant_usage"].every == timedelta(minutes=15)


def test_probe_task_runs_through_the_task_backend(db):
    from mamori.monitoring.tasks import run_probes_task

    result = run_probes_task.call()
    assert result == {key: True for key in COMPONENTS}
