"""Control checks 15.1.2 and 9.4.4 against real grants, sessions and settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.compliance.registry import FAIL, PASS, get
from mamori.compliance.runner import run_one
from mamori.support.models import SupportAccessRequest
from mamori.tenancy.context import use_tenant


def _run(key):
    with use_tenant(None):
        return run_one(get(key))


def test_consent_check_passes_with_real_sessions(support_session, tenant):
    client, _grant = support_session()
    client.get("/t/acme/")
    outcome = _run("15.1.2")
    assert outcome.status == PASS, outcome.summary
    assert outcome.evidence["active"] == 1 and outcome.evidence["max_hours"] == 72
    assert outcome.evidence["sessions_started"] == 1 and outcome.evidence["page_views"] == 1


def test_consent_check_fails_on_a_grant_longer_than_the_maximum(staff, make_grant, tenant):
    grant = make_grant(staff)
    with use_tenant(tenant):
        SupportAccessRequest.objects.filter(pk=grant.pk).update(approved_until=grant.decided_at + timedelta(hours=80))
    outcome = _run("15.1.2")
    assert outcome.status == FAIL and f"acme#{grant.pk}" in outcome.evidence["too_long"]


def test_consent_check_fails_on_a_grant_open_past_its_end(staff, make_grant, tenant):
    grant = make_grant(staff)
    with use_tenant(tenant):
        SupportAccessRequest.objects.filter(pk=grant.pk).update(
            decided_at=timezone.now() - timedelta(hours=3), approved_until=timezone.now() - timedelta(hours=1))
    outcome = _run("15.1.2")
    assert outcome.status == FAIL and f"acme#{grant.pk}" in outcome.evidence["past_end"]


def test_consent_check_fails_without_the_middleware(settings, tenant):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "support" not in m]
    assert _run("15.1.2").status == FAIL
    assert _run("9.4.4").status == FAIL


def test_backdoor_check_passes_and_names_what_it_read(tenant, admin, staff, make_grant):
    make_grant(staff)
    outcome = _run("9.4.4")
    assert outcome.status == PASS, outcome.summary
    assert outcome.evidence["orm_refuses"] is True and outcome.evidence["staff_is_auth_user"] is False
    assert outcome.evidence["user_model"] == "accounts.User"


@pytest.mark.postgres
def test_backdoor_check_reads_zero_rows_without_tenant_on_postgres(tenant, admin, staff, make_grant):
    make_grant(staff)
    outcome = _run("9.4.4")
    assert outcome.status == PASS
    assert outcome.evidence["rows_visible_without_tenant"] == {"accounts_user": 0, "support_supportaccessrequest": 0}


def test_backdoor_check_fails_on_a_support_user_raised_to_admin(staff, make_grant, tenant):
    from mamori.accounts.models import User

    grant = make_grant(staff)
    with use_tenant(tenant):
        User.objects.filter(pk=grant.support_user_id).update(role="tenant_admin")
    outcome = _run("9.4.4")
    assert outcome.status == FAIL and outcome.evidence["admin_support_users"]
