"""The sign-in throttle (mamori.accounts.throttle): counters, growing delays, lockout notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory, TestCase, override_settings

from mamori.accounts import throttle
from mamori.accounts.models import ThrottleCounter
from mamori.audit.models import AuditEvent
from tests.accounts.lifecycle_fixtures import deliver

pytestmark = pytest.mark.django_db(transaction=False)

CONFIG = {"account": {"lock_after": 3, "forget": 3600}, "ip": {"lock_after": 10, "forget": 600},
          "base": 1, "max": 60}


def _request(ip="203.0.113.5"):
    return RequestFactory().post("/login/", REMOTE_ADDR=ip)


@pytest.fixture(autouse=True)
def _config(settings):
    settings.MAMORI_THROTTLE = CONFIG


def _fail(n, key="someone@acme.example", ip="203.0.113.5", kind="password"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        for _ in range(n):
            throttle.attempt_failed(_request(ip), kind=kind, account_key=key)
    deliver()


def _age(seconds: float) -> None:
    """Move every counter's clock back (time travel without sleeping)."""
    for row in ThrottleCounter.objects.all():
        row.last_failure_at -= timedelta(seconds=seconds)
        if row.blocked_until:
            row.blocked_until -= timedelta(seconds=seconds)
        row.save()


def test_delays_grow_and_are_capped():
    assert [throttle.delay_for(n, "account") for n in range(1, 12)] == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_free_failures_then_not_before_window(tenant):
    _fail(2)
    assert throttle.check_allowed(_request(), kind="password", account_key="someone@acme.example") == 0
    _fail(1)
    wait = throttle.check_allowed(_request(), kind="password", account_key="SOMEONE@acme.example ")
    assert 0 < wait <= 1
    _age(1.5)
    assert throttle.check_allowed(_request(), kind="password", account_key="someone@acme.example") == 0
    _fail(1)
    assert 1 < throttle.check_allowed(_request(), kind="password", account_key="someone@acme.example") <= 2


def test_account_counter_applies_from_any_address_and_kinds_are_separate(tenant):
    _fail(3, ip="198.51.100.1")
    assert throttle.check_allowed(_request("198.51.100.99"), kind="password", account_key="someone@acme.example")
    assert throttle.check_allowed(_request(), kind="totp", account_key="someone@acme.example") == 0
    assert throttle.check_allowed(_request(), kind="password", account_key="other@acme.example") == 0


def test_ip_counter_catches_spraying_across_accounts(tenant):
    for i in range(10):
        _fail(1, key=f"user{i}@acme.example")
    assert throttle.check_allowed(_request(), kind="password", account_key="fresh@acme.example") > 0
    assert throttle.check_allowed(_request("198.51.100.7"), kind="password", account_key="fresh@acme.example") == 0


def test_success_resets_the_account_not_the_address(tenant):
    for i in range(9):
        _fail(1, key=f"user{i}@acme.example")
    _fail(2)
    throttle.attempt_succeeded(_request(), kind="password", account_key="someone@acme.example")
    assert not ThrottleCounter.objects.filter(scope="account", key_hash=throttle._hash("someone@acme.example"))
    assert ThrottleCounter.objects.get(scope="ip").failures == 11


def test_counters_are_forgotten_after_quiet_period(tenant):
    _fail(5)
    _age(3601)
    assert throttle.check_allowed(_request(), kind="password", account_key="someone@acme.example") == 0
    _fail(1)
    assert ThrottleCounter.objects.get(scope="account").failures == 1


def test_unknown_kind_is_an_error(tenant):
    with pytest.raises(ValueError):
        throttle.check_allowed(_request(), kind="sms", account_key="x")


def test_no_tenant_means_no_throttle(db):
    assert throttle.check_allowed(_request(), kind="password", account_key="x") == 0
    throttle.attempt_failed(_request(), kind="password", account_key="x")


def test_lockout_recorded_and_mailed_once_per_episode(tenant, viewer, mailoutbox):
    _fail(6, key=viewer.email, kind="totp")
    events = AuditEvent.objects.filter(action="auth.lockout")
    assert events.count() == 1
    event = events.get()
    assert event.target_id == str(viewer.pk) and event.after["method"] == "totp"
    assert event.after["scope"] == ["account"] and event.after["failures"] == 3
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [viewer.email]
    # A success ends the episode; the next lockout is recorded and mailed again.
    throttle.attempt_succeeded(_request(), kind="totp", account_key=viewer.email)
    _fail(3, key=viewer.email, kind="totp")
    assert AuditEvent.objects.filter(action="auth.lockout").count() == 2
    assert len(mailoutbox) == 2


def test_unknown_account_lockout_is_recorded_but_mails_nobody(tenant, mailoutbox):
    _fail(3, key="nobody@acme.example")
    event = AuditEvent.objects.get(action="auth.lockout")
    assert event.target_id == "" and event.target_label == "nobody@acme.example"
    assert mailoutbox == []


def test_counters_are_per_tenant(tenant, other_tenant):
    from mamori.tenancy.context import use_tenant

    _fail(3)
    with use_tenant(other_tenant):
        assert throttle.check_allowed(_request(), kind="password", account_key="someone@acme.example") == 0


@override_settings(MAMORI_THROTTLE={**CONFIG, "max": 900})
def test_wait_message():
    from django.utils import translation

    with translation.override("en"):
        assert throttle.wait_message(0.4) == "Too many failed attempts. Try again in a moment."
        assert "5 seconds" in throttle.wait_message(4.2)
        assert "15 minutes" in throttle.wait_message(900)
    with translation.override("ja"):
        assert "15 分後" in throttle.wait_message(900)


def test_lockout_mail_says_what_happened(tenant, viewer, mailoutbox):
    _fail(3, key=viewer.email, ip="198.51.100.23")
    [mail] = mailoutbox
    assert viewer.email in mail.body and "/t/acme/accounts/password/reset/" in mail.body
