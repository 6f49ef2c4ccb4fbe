"""Secure log-on checks (9.4.2): the throttle and the sign-in history pass on the real system and
fail once the control is weakened."""

from __future__ import annotations

import pytest

from mamori.audit.events import Actor, record_event
from mamori.tenancy.context import use_tenant
from tests.compliance.helpers import run

pytestmark = pytest.mark.django_db


def test_throttle_passes_with_the_defaults():
    outcome = run("9.4.2-throttle")
    assert outcome.status == "pass", outcome.summary
    assert outcome.evidence["account_lock_after"] == 5 and outcome.evidence["adapter_wired"] is True


def test_throttle_fails_when_an_account_may_fail_too_often(settings):
    settings.MAMORI_THROTTLE = {**settings.MAMORI_THROTTLE,
                                "account": {**settings.MAMORI_THROTTLE["account"], "lock_after": 50}}
    outcome = run("9.4.2-throttle")
    assert outcome.status == "fail" and "50 failures" in outcome.summary


def test_throttle_fails_when_the_adapter_is_not_mamoris(settings):
    settings.ACCOUNT_ADAPTER = "allauth.account.adapter.DefaultAccountAdapter"
    outcome = run("9.4.2-throttle")
    assert outcome.status == "fail" and outcome.evidence["adapter_wired"] is False


def test_history_counts_recorded_sign_ins(tenant, admin):
    with use_tenant(tenant):
        record_event(actor=Actor.for_user(admin), action="auth.login", target=admin)
        record_event(actor=Actor.anonymous("x@acme.example"), action="auth.login_failed", target=admin)
    outcome = run("9.4.2-history")
    assert outcome.status == "pass", outcome.summary
    counts = outcome.evidence["last_30_days"]
    assert counts["auth.login"] >= 1 and counts["auth.login_failed"] >= 1
    assert outcome.evidence["pages"] == {"console:my_signins": True, "console:signins": True}
