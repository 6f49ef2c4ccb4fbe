"""The tenant console page (Settings → Security → Support access) and the provider page."""

from __future__ import annotations

import pytest

from mamori.audit.models import AuditEvent
from mamori.support.models import SupportAccessRequest
from mamori.tenancy.context import use_tenant

State = SupportAccessRequest.State
PAGE = "/t/acme/settings/security/support-access/"


def _english(client):
    """The tenant's language is Japanese; the language cookie picks English for these assertions."""
    client.cookies["django_language"] = "en"
    return client


def test_provider_requests_access_and_sees_its_state(provider_client, staff, tenant, admin):
    client = provider_client(staff)
    page = client.get("/provider/support/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Request access to a tenant" in page.content.decode()
    response = client.post("/provider/support/", {"tenant": "acme", "reason": "Ticket 12: <b>import</b> fails",
                                                   "scope": "read_only", "hours": "6"})
    assert response.status_code == 302
    html = client.get("/provider/support/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Waiting for approval" in html and "<b>import</b>" not in html and "&lt;b&gt;import" in html
    assert "Open tenant console" not in html


@pytest.mark.parametrize(("data", "message"), [
    ({"tenant": "acme", "reason": "", "scope": "read_only", "hours": "2"}, "This field is required"),
    ({"tenant": "acme", "reason": "x", "scope": "read_only", "hours": "73"}, "72"),
    ({"tenant": "acme", "reason": "x", "scope": "root", "hours": "2"}, "Select a valid choice"),
    ({"tenant": "nope", "reason": "x", "scope": "read_only", "hours": "2"}, "Select a valid choice"),
])
def test_provider_form_errors_are_field_level(provider_client, staff, tenant, data, message):
    response = provider_client(staff).post("/provider/support/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and message in response.content.decode()
    with use_tenant(tenant):
        assert not SupportAccessRequest.objects.exists()


def test_security_officer_has_no_support_page(provider_client, make_staff, tenant):
    client = provider_client(make_staff("security_officer"))
    assert client.get("/provider/support/").status_code == 403


def test_tenant_admin_approves_with_reauthentication(console_client, admin, staff, make_grant, tenant):
    grant = make_grant(staff, approve=False, hours=8)
    stale = _english(console_client(admin, reauthenticated=False))
    page = stale.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Ticket 4711" in page and staff.email in page
    response = stale.post(f"{PAGE}{grant.pk}/approve/", {"hours": "2"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    with use_tenant(tenant):
        assert SupportAccessRequest.objects.get().state == State.REQUESTED
    client = _english(console_client(admin))
    bad = client.post(f"{PAGE}{grant.pk}/approve/", {"hours": "9"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and "between 1 and 8" in bad.content.decode()
    assert client.post(f"{PAGE}{grant.pk}/approve/", {"hours": "2"}).status_code == 302
    with use_tenant(tenant):
        grant.refresh_from_db()
    assert grant.state == State.APPROVED
    html = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Revoke now" in html
    assert client.post(f"{PAGE}{grant.pk}/revoke/").status_code == 302
    with use_tenant(tenant):
        grant.refresh_from_db()
    assert grant.state == State.REVOKED


def test_refuse_from_the_page(console_client, admin, staff, make_grant, tenant):
    grant = make_grant(staff, approve=False)
    client = _english(console_client(admin))
    assert client.post(f"{PAGE}{grant.pk}/refuse/", {"note": "Use the test tenant"}).status_code == 302
    html = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Refused" in html and "Use the test tenant" in html


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_page_is_for_tenant_admins_only(console_client, request, who, staff, make_grant):
    grant = make_grant(staff, approve=False)
    client = console_client(request.getfixturevalue(who))
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}{grant.pk}/approve/").status_code == 403


def test_unknown_or_other_tenants_request_is_404(console_client, admin, outsider, staff, make_grant, other_tenant):
    grant = make_grant(staff, on=other_tenant, approve=False)
    client = console_client(admin)
    assert client.post(f"{PAGE}{grant.pk}/approve/").status_code == 404
    assert client.post(f"{PAGE}999999/refuse/").status_code == 404
    with use_tenant(other_tenant):
        assert SupportAccessRequest.objects.get().state == State.REQUESTED


def test_settings_overview_links_the_page(console_client, admin):
    html = _english(console_client(admin)).get("/t/acme/settings/security/").content.decode()
    assert PAGE in html


def test_cancel_from_the_provider_page(provider_client, staff, make_grant, tenant):
    grant = make_grant(staff, approve=False)
    client = provider_client(staff)
    assert client.post(f"/provider/support/acme/{grant.pk}/cancel/").status_code == 302
    with use_tenant(tenant):
        assert SupportAccessRequest.objects.get().state == State.CANCELLED
        assert AuditEvent.objects.filter(action="support.access_cancelled").exists()
    assert client.post(f"/provider/support/acme/{grant.pk}/cancel/").status_code == 302  # closed: a message
    assert client.post("/provider/support/acme/99999/cancel/").status_code == 404


def test_provider_page_role_matrix_and_navigation(provider_client, make_staff, tenant):
    for role, status in (("support", 200), ("operator", 200), ("security_officer", 403)):
        client = provider_client(make_staff(role))
        assert client.get("/provider/support/").status_code == status, role
        linked = 'href="/provider/support/"' in client.get("/provider/").content.decode()
        assert linked is (status == 200), role
        if status == 403:
            assert client.post("/provider/support/", {"tenant": "acme", "reason": "x", "scope": "read_only",
                                                      "hours": "1"}).status_code == 403
            assert client.post("/provider/support/acme/1/open/").status_code == 403
    with use_tenant(tenant):
        assert not SupportAccessRequest.objects.exists()


def test_anonymous_provider_visitor_is_sent_to_sign_in(client, tenant):
    response = client.get("/provider/support/")
    assert response.status_code == 302 and response["Location"].startswith("/provider/login/")
    assert client.post("/provider/support/acme/1/open/").status_code == 302
