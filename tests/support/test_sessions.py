"""The staff member inside the tenant console: entry, checks on every request, audit, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.operations.middleware import PROVIDER_SESSION_KEY
from mamori.support import actions
from mamori.support.models import SupportAccessRequest
from mamori.support.sessions import HANDOFF_SESSION_KEY, SUPPORT_SESSION_KEY
from mamori.tenancy.context import use_tenant

LABEL = "support@provider.example (support access)"


def _events(tenant, action):
    with use_tenant(tenant):
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_approved_staff_enters_with_banner_and_every_page_view_is_audited(support_session, tenant, staff):
    client, grant = support_session()
    page = client.get("/t/acme/records/?q=secret-search-term")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="support-banner"' in html and staff.email in html
    assert "によるサポートアクセス中" in html  # the tenant's language (Japanese) by default
    client.get("/t/acme/workspaces/")
    started = _events(tenant, "support.session_started")
    assert len(started) == 1 and started[0].actor_label == LABEL and started[0].actor_type == "support"
    views = _events(tenant, "support.page_viewed")
    paths = [e.after["path"] for e in views]
    assert paths == ["/t/acme/records/", "/t/acme/workspaces/"]
    assert all(e.actor_label == LABEL for e in views)
    assert not any("secret-search-term" in repr(e.after) for e in views)
    login = _events(tenant, "auth.login")[-1]
    assert login.actor_label == LABEL and login.after["method"] == "support_access"
    assert ProviderEvent.objects.filter(action="support.session_started", tenant_ref=tenant.pk).exists()
    # the provider session survives the tenant sign-in
    assert client.session[PROVIDER_SESSION_KEY] == staff.pk
    assert client.get("/provider/support/").status_code == 200


def test_staff_without_approval_gets_nothing(provider_client, staff, tenant, make_grant):
    grant = make_grant(staff, approve=False)
    client = provider_client(staff)
    assert client.post(f"/provider/support/acme/{grant.pk}/open/").status_code == 404
    assert client.get("/t/acme/support/enter/").status_code == 404
    response = client.get("/t/acme/records/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not _events(tenant, "support.session_started")


def test_other_staff_members_grant_does_not_open(provider_client, make_staff, staff, make_grant):
    grant = make_grant(staff)
    other = provider_client(make_staff("operator"))
    assert other.post(f"/provider/support/acme/{grant.pk}/open/").status_code == 404


def test_hand_off_is_one_time_and_short_lived(provider_client, staff, make_grant, tenant):
    import time
    from unittest import mock

    grant = make_grant(staff)
    client = provider_client(staff)
    location = client.post(f"/provider/support/acme/{grant.pk}/open/")["Location"]
    assert location == "/t/acme/support/enter/"  # the signed hand-off is in the session, not the URL
    token = client.session[HANDOFF_SESSION_KEY]
    assert client.get(location).status_code == 302
    assert client.get(location).status_code == 404  # used once
    fresh = provider_client(staff)
    session = fresh.session
    session[HANDOFF_SESSION_KEY] = token
    session.save()
    with mock.patch.object(time, "time", return_value=time.time() + 61):  # signed more than 60 s ago
        assert fresh.get(location).status_code == 404
    tampered = provider_client(staff)
    session = tampered.session
    session[HANDOFF_SESSION_KEY] = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    session.save()
    assert tampered.get(location).status_code == 404


def test_hand_off_without_the_provider_sign_in_is_refused(staff, make_grant):
    from mamori.support.sessions import issue_handoff

    grant = make_grant(staff)
    client = Client()
    session = client.session

    class _Req:
        pass

    req = _Req()
    req.session = session
    issue_handoff(req, staff=staff, tenant=grant.tenant, grant=grant)
    session.save()
    response = client.get("/t/acme/support/enter/")  # not staff: the tenant's sign-in, like any page
    assert response.status_code == 302 and response["Location"].startswith("/t/acme/accounts/login/")
    assert HANDOFF_SESSION_KEY in client.session  # untouched, and it would expire in 60 s
    assert not _events(grant.tenant, "support.session_started")


def test_expiry_ends_the_session_mid_way(support_session, tenant):
    client, grant = support_session()
    assert client.get("/t/acme/records/").status_code == 200
    with use_tenant(tenant):
        SupportAccessRequest.objects.filter(pk=grant.pk).update(approved_until=timezone.now() - timedelta(seconds=1))
    response = client.get("/t/acme/records/")
    assert response.status_code == 302 and response["Location"] == "/provider/support/"
    assert SUPPORT_SESSION_KEY not in client.session
    again = client.get("/t/acme/records/")
    assert again.status_code == 302 and "/accounts/login/" in again["Location"]
    with use_tenant(tenant):
        grant.refresh_from_db()
        assert grant.state == SupportAccessRequest.State.EXPIRED
    assert _events(tenant, "support.session_ended")[-1].after["reason"] == "expired"
    # the staff member is still signed in to the provider console
    assert client.get("/provider/support/").status_code == 200


def test_revocation_signs_the_session_out(support_session, tenant, admin):
    client, grant = support_session()
    with use_tenant(tenant):
        actions.revoke_access(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk)
    response = client.get("/t/acme/records/")
    assert response.status_code == 302
    assert client.get("/t/acme/records/")["Location"].startswith("/t/acme/accounts/login/")


def test_provider_sign_out_ends_the_support_session(support_session, tenant):
    client, _grant = support_session()
    client.post("/provider/logout/")
    response = client.get("/t/acme/records/")
    assert response.status_code == 302 and "/t/acme/" in response["Location"]
    assert "support-banner" not in client.get("/t/acme/", follow=True).content.decode()


def test_read_only_cannot_post_anything(support_session, tenant):
    client, grant = support_session()
    for path in ("/t/acme/workspaces/new/", "/t/acme/labels/", "/t/acme/tokens/new/", "/t/acme/records/1/edit/"):
        assert client.post(path, {"name": "x", "title": "x"}).status_code == 403, path
    with use_tenant(tenant):
        from mamori.records.models import Workspace

        assert not Workspace.objects.exists()
        denied = AuditEvent.objects.filter(action="access.denied", actor_label=LABEL)
        assert denied.count() == 4


def test_read_write_acts_under_the_staff_name(support_session, tenant):
    client, grant = support_session(scope="read_write")
    response = client.post("/t/acme/workspaces/new/", {"name": "Support WS", "description": ""})
    assert response.status_code == 302, response.content[:400]
    created = _events(tenant, "workspace.created")
    assert created and created[-1].actor_label == LABEL


def test_support_session_never_reaches_tokens_mfa_or_admin_pages(support_session):
    client, _grant = support_session(scope="read_write")
    assert client.get("/t/acme/tokens/").status_code == 403
    assert client.post("/t/acme/tokens/new/", {"name": "x"}).status_code == 403
    assert client.get("/t/acme/settings/security/support-access/").status_code == 403
    assert client.get("/t/acme/users/").status_code == 403


def test_sign_out_in_the_tenant_keeps_the_provider_session(support_session, tenant, staff):
    client, _grant = support_session()
    response = client.post("/t/acme/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/provider/support/"
    assert client.session[PROVIDER_SESSION_KEY] == staff.pk
    assert _events(tenant, "support.session_ended")[-1].after["reason"] == "signed_out_by_staff"


def test_grant_for_one_tenant_does_not_open_another(support_session, other_tenant, outsider, make_grant, staff):
    client, grant = support_session()
    response = client.get("/t/globex/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # a hand-off for acme presented at globex
    client.post(f"/provider/support/acme/{grant.pk}/open/")
    assert client.get("/t/globex/support/enter/").status_code == 404
    # a grant id of acme named under globex's slug
    assert client.post(f"/provider/support/globex/{grant.pk}/open/").status_code == 404
    # and the acme session still works
    assert client.get("/t/acme/records/").status_code == 200


def test_support_user_without_a_hand_off_is_signed_out(staff, make_grant, tenant):
    """Even with the password (here: set by someone who could), a support user gets no session."""
    from mamori.accounts.models import User

    grant = make_grant(staff)
    with use_tenant(tenant):
        user = User.objects.get(pk=grant.support_user_id)
        user.set_password("correct horse battery staple")
        user.save()
    client = Client()
    client.force_login(user)
    response = client.get("/t/acme/records/")
    assert response.status_code == 302 and response["Location"] == "/provider/support/"
    assert _events(tenant, "support.page_viewed") == []


def test_api_refuses_a_support_users_token(staff, make_grant, tenant, api_client):
    from mamori.accounts.actions import create_api_token
    from mamori.accounts.models import User

    grant = make_grant(staff, scope="read_write")
    with use_tenant(tenant):
        user = User.objects.get(pk=grant.support_user_id)
        _row, raw = create_api_token(actor=Actor.system("test"), user=user, name="t", issued_by_cli=True)
    assert api_client(raw).get("/api/v1/records").status_code == 401


def test_role_raised_by_an_admin_ends_the_session(support_session, tenant):
    from mamori.accounts.models import User

    client, grant = support_session()
    with use_tenant(tenant):
        User.objects.filter(pk=grant.support_user_id).update(role="tenant_admin")
    assert client.get("/t/acme/records/")["Location"] == "/provider/support/"


@pytest.mark.postgres
def test_provider_requests_see_no_support_rows_without_tenant_context(staff, make_grant, tenant):
    from django.db import connection, transaction

    from mamori.tenancy.context import tenant_context

    make_grant(staff)
    with use_tenant(None), tenant_context(None), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM support_supportaccessrequest")
        assert cursor.fetchone()[0] == 0
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM support_supportaccessrequest")
        assert cursor.fetchone()[0] == 1


def test_provider_session_without_the_second_factor_cannot_enter(settings, provider_client, staff, make_grant):
    from mamori.operations.middleware import PROVIDER_MFA_KEY

    settings.MAMORI_PROVIDER_MFA = True
    grant = make_grant(staff)
    client = provider_client(staff)
    location = client.post(f"/provider/support/acme/{grant.pk}/open/")["Location"]
    session = client.session
    session[PROVIDER_MFA_KEY] = False  # as if signed in while MFA was off
    session.save()
    response = client.get(location)
    assert response.status_code == 302 and response["Location"].startswith("/t/acme/accounts/login/")
    assert not _events(grant.tenant, "support.session_started")


def test_tenant_mfa_policy_for_everyone_does_not_send_the_support_user_to_enrolment(support_session, tenant, admin):
    """The staff member passed the provider console's second factor; the support user has
    none of its own, and the tenant's "MFA for everyone" must not lock support out."""
    from mamori.multifactor.actions import update_mfa_policy
    from mamori.multifactor.models import MfaRequirement

    with use_tenant(tenant):
        update_mfa_policy(actor=Actor.for_user(admin), requirement=MfaRequirement.EVERYONE)
    client, _grant = support_session()
    page = client.get("/t/acme/records/")
    assert page.status_code == 200, page.get("Location")
