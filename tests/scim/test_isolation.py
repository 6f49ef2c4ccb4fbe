"""SCIM tokens: bound to one tenant, hashed, revocable, expiring; every refusal is a 401 (audited);
the tenant's IP allowlist applies (controls §3 13.1.3, §2 9.2.3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.accounts.models import User
from mamori.audit.models import AuditEvent
from mamori.scim.models import ScimToken
from mamori.tenancy.context import use_tenant
from tests.scim.conftest import USER_SCHEMA, ScimClient, new_user

pytestmark = pytest.mark.django_db

URLS = ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Users", "/Groups", "/Users/1", "/Groups/1",
        "/nothing"]


def _assert_401(response):
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.json()["status"] == "401"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz",
                                    "Bearer mmrscim_1_000000000000_" + "0" * 64])
def test_missing_or_malformed_tokens_get_401(tenant, header):
    client = ScimClient(**({"HTTP_AUTHORIZATION": header} if header is not None else {}))
    for url in URLS:
        _assert_401(client.scim("GET", url))


def test_api_token_and_session_do_not_open_scim(tenant, admin, api_token, console_client):
    _assert_401(ScimClient(HTTP_AUTHORIZATION=f"Bearer {api_token(admin)}").scim("GET", "/Users"))
    session = console_client(admin)
    _assert_401(session.get("/scim/v2/Users"))


def test_scim_token_is_not_an_api_token(tenant, scim_token):
    response = ScimClient(HTTP_AUTHORIZATION=f"Bearer {scim_token}").get("/api/v1/me")
    assert response.status_code == 401


def test_token_is_stored_hashed(tenant, admin, make_scim_token):
    token, raw = make_scim_token(tenant, admin)
    assert raw.startswith("mmrscim_") and raw.split("_")[-1] not in token.secret_hash
    assert len(token.secret_hash) == 64 and raw not in repr(list(ScimToken.objects.values()))


def test_token_of_tenant_a_never_reaches_tenant_b(tenant, admin, other_tenant, outsider, make_scim_token,
                                                  scim_for):
    _token_a, raw_a = make_scim_token(tenant, admin)
    _token_b, raw_b = make_scim_token(other_tenant, outsider)
    client_a, client_b = scim_for(raw_a), scim_for(raw_b)
    mine = new_user(client_a, "mine@acme.example")
    theirs = new_user(client_b, "theirs@globex.example")
    with use_tenant(other_tenant):
        b_ids = set(User.objects.values_list("pk", flat=True))
    # A's token lists only A's users and finds none of B's by id, filter or write
    listed = client_a.scim("GET", "/Users").json()
    assert not {int(r["id"]) for r in listed["Resources"]} & b_ids
    assert all(not r["userName"].endswith("globex.example") for r in listed["Resources"])
    for pk in b_ids:
        assert client_a.scim("GET", f"/Users/{pk}").status_code == 404
        assert client_a.scim("DELETE", f"/Users/{pk}").status_code == 404
        assert client_a.scim("PUT", f"/Users/{pk}", {"schemas": [USER_SCHEMA], "userName": "x@acme.example"}
                             ).status_code == 404
    assert client_a.scim("GET", "/Users", {"filter": 'userName eq "theirs@globex.example"'}).json()[
        "totalResults"] == 0
    group_b = client_b.scim("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                "displayName": "B only", "members": [{"value": theirs["id"]}]})
    assert group_b.status_code == 201
    group_id = group_b.json()["id"]
    for method in ("GET", "DELETE"):
        assert client_a.scim(method, f"/Groups/{group_id}").status_code == 404
    assert client_a.scim("PATCH", f"/Groups/{group_id}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": mine["id"]}]}]}).status_code == 404
    assert "B only" not in str(client_a.scim("GET", "/Groups").json())
    # B cannot put A's user into its group either
    added = client_b.scim("PATCH", f"/Groups/{group_id}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": mine["id"]}]}]})
    assert added.status_code == 400
    assert client_b.scim("GET", f"/Users/{mine['id']}").status_code == 404
    assert client_b.scim("GET", f"/Users/{theirs['id']}").status_code == 200
    # a forged token claiming tenant B with A's key id and secret is refused
    forged = raw_a.replace(f"mmrscim_{tenant.pk}_", f"mmrscim_{other_tenant.pk}_")
    _assert_401(scim_for(forged).scim("GET", "/Users"))
    with use_tenant(other_tenant):
        assert AuditEvent.objects.filter(action="scim.auth_failed").exists()


@pytest.mark.parametrize("state", ["revoked", "expired", "wrong_secret"])
def test_unusable_tokens_are_refused_and_audited(tenant, admin, make_scim_token, scim_for, state):
    token, raw = make_scim_token(tenant, admin)
    if state == "revoked":
        ScimToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    elif state == "expired":
        ScimToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        raw = raw[:-4] + ("0000" if not raw.endswith("0000") else "1111")
    _assert_401(scim_for(raw).scim("GET", "/Users"))
    event = AuditEvent.objects.filter(action="scim.auth_failed").latest("id")
    assert event.after["reason"] == state and event.target_label == token.prefix


def test_suspended_tenant_refuses_scim(tenant, admin, make_scim_token, scim_for):
    from mamori.tenancy.models import Tenant

    _token, raw = make_scim_token(tenant, admin)
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    _assert_401(scim_for(raw).scim("GET", "/Users"))


def test_last_used_is_recorded(tenant, admin, make_scim_token, scim_for):
    token, raw = make_scim_token(tenant, admin)
    assert scim_for(raw).scim("GET", "/Users").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_ip_allowlist_applies_to_scim(tenant, admin, scim_token, scim_for):
    from mamori.access.actions_allowlist import save_allowlist
    from mamori.audit.events import Actor

    save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[("192.0.2.0/24", "office")],
                   current_ip="192.0.2.10")
    blocked = ScimClient(HTTP_AUTHORIZATION=f"Bearer {scim_token}", REMOTE_ADDR="198.51.100.7")
    response = blocked.scim("GET", "/Users")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.json()["status"] == "403" and "198.51.100.7" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="access.ip_blocked").exists()
    allowed = ScimClient(HTTP_AUTHORIZATION=f"Bearer {scim_token}", REMOTE_ADDR="192.0.2.44")
    assert allowed.scim("GET", "/Users").status_code == 200


@pytest.mark.postgres
def test_scim_tables_have_forced_rls(on_postgres):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                       "WHERE relname IN ('scim_scimtoken', 'scim_scimuser', 'scim_scimgroup')")
        rows = cursor.fetchall()
    assert len(rows) == 3 and all(r[1] and r[2] for r in rows)
