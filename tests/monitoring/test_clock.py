"""The SNTP client and the clock check against a real SNTP server on loopback (12.4.4)."""

from __future__ import annotations

import re

import pytest

from mamori.audit.models import ProviderEvent
from mamori.monitoring import sntp
from mamori.monitoring.clock import measure_clock
from mamori.monitoring.models import ClockReading, ClockState


@pytest.mark.parametrize("offset", [0.0, 2.5, -7.25])
def test_offset_is_measured(sntp_server, offset):
    sntp_server.offset = offset
    result = sntp.query(sntp_server.address)
    assert result.offset_ms == pytest.approx(offset * 1000, abs=50)
    assert 0 <= result.delay_ms < 100
    assert result.stratum == 2


@pytest.mark.parametrize(("mode", "reason"), [
    ("garbage", "not an NTP server reply"),
    ("kod", "kiss-o'-death"),
    ("wrong_origin", "originate timestamp mismatch"),
    ("unsynchronised", "not synchronised"),
])
def test_bad_replies_are_refused(sntp_server, mode, reason):
    sntp_server.mode = mode
    with pytest.raises(sntp.SntpError, match=reason):
        sntp.query(sntp_server.address)
    assert sntp_server.requests == 1


def test_silent_server_times_out(sntp_server):
    sntp_server.mode = "silent"
    with pytest.raises(sntp.SntpError, match="no answer within 0.3 s"):
        sntp.query(sntp_server.address, timeout=0.3)


def test_unreachable_port_is_an_error_not_a_crash(closed_udp_port):
    with pytest.raises(sntp.SntpError, match="network error|no answer"):
        sntp.query(closed_udp_port, timeout=0.5)


def test_unresolvable_name():
    with pytest.raises(sntp.SntpError, match="name resolution failed"):
        sntp.query("no-such-host.invalid", timeout=0.5)


@pytest.mark.parametrize(("entry", "expected"), [
    ("ntp.nict.jp", ("ntp.nict.jp", 123)), ("127.0.0.1:1123", ("127.0.0.1", 1123)),
    ("[::1]:5123", ("::1", 5123)), ("::1", ("::1", 123)), ("[::1]", ("::1", 123)),
])
def test_server_entries(entry, expected):
    assert sntp.parse_server(entry) == expected


def _measure(capture, servers):
    with capture(execute=True):  # the alert mail leaves once the state change is committed
        return measure_clock(servers=servers)


def test_state_ok_then_offset_then_back_alerts_once_per_change(db, sntp_server, security_officer, settings,
                                                              mailoutbox, django_capture_on_commit_callbacks):
    settings.MAMORI_CLOCK_MAX_OFFSET_MS = 1000
    capture = django_capture_on_commit_callbacks
    state = _measure(capture, [sntp_server.address])
    assert state.state == ClockState.State.OK and abs(state.offset_ms) < 100
    assert ClockReading.objects.filter(ok=True).count() == 1
    # The first state, ok, is logged but nobody is alerted.
    assert ProviderEvent.objects.filter(action="monitoring.clock_state_changed").count() == 1
    assert mailoutbox == []

    sntp_server.offset = 3.0
    for _ in range(2):  # the second measurement in the same state alerts nobody again
        state = _measure(capture, [sntp_server.address])
    assert state.state == ClockState.State.OFFSET
    assert state.offset_ms == pytest.approx(3000, abs=50)
    events = ProviderEvent.objects.filter(action="monitoring.clock_state_changed").order_by("id")
    assert events.count() == 2
    assert events.last().after["state"] == "offset" and events.last().before["state"] == "ok"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [security_officer.email]
    assert "Offset above threshold" in mailoutbox[0].subject
    assert re.search(r"Offset: (29|30)\d\d\.\d ms \(threshold 1000 ms\)", mailoutbox[0].body)

    sntp_server.offset = 0.0
    assert _measure(capture, [sntp_server.address]).state == ClockState.State.OK
    assert ProviderEvent.objects.filter(action="monitoring.clock_state_changed").count() == 3
    assert len(mailoutbox) == 2  # recovery is announced too
    assert ClockState.objects.count() == 1


def test_unreachable_servers_give_unknown_with_reasons(db, sntp_server, closed_udp_port, security_officer,
                                                       mailoutbox, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(sntp, "TIMEOUT", 0.3)
    sntp_server.mode = "garbage"
    state = _measure(django_capture_on_commit_callbacks,
                     [closed_udp_port, sntp_server.address, "no-such-host.invalid"])
    assert state.state == ClockState.State.UNKNOWN
    assert state.offset_ms is None
    assert closed_udp_port in state.reason and "not an NTP server reply" in state.reason
    assert "no-such-host.invalid: name resolution failed" in state.reason
    assert ClockReading.objects.filter(ok=False).count() == 3
    assert len(mailoutbox) == 1 and "Unknown" in mailoutbox[0].subject


def test_the_answer_with_the_smallest_delay_decides(db, sntp_server, closed_udp_port, monkeypatch):
    monkeypatch.setattr(sntp, "TIMEOUT", 0.3)
    sntp_server.offset = 0.2
    state = measure_clock(servers=[closed_udp_port, sntp_server.address])
    assert state.state == ClockState.State.OK
    assert state.server == sntp_server.address
    assert ClockReading.objects.filter(ok=True).count() == 1 and ClockReading.objects.filter(ok=False).count() == 1


def test_no_server_configured(db):
    state = measure_clock(servers=[])
    assert state.state == ClockState.State.UNKNOWN and state.reason == "no NTP server configured"
