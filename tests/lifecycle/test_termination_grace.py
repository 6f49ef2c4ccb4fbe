"""Issue 6 item 4: during the grace period only admins sign in, read-only (console, API, SCIM); the
console page to terminate (re-authentication, typed slug)."""

from __future__ import annotations

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle.models import Termination
from mamori.records.models import Workspace
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.conftest import PASSWORD


def _says(text: str, message: str) -> bool:
    """``message`` (English) or its Japanese translation appears in ``text``."""
    from django.utils import translation

    with translation.override("ja"):
        japanese = translation.gettext(message)
    return message in text or japanese in text


GRACE = ("This tenant's contract is being terminated. Until its data is deleted, only tenant admins may sign in, "
         "and only to read and export the data.")
API_ADMINS = ("This tenant's contract is being terminated: only tenant admins' API tokens may be used until its "
              "data is deleted.")
API_READ_ONLY = ("This tenant's contract is being terminated: its data is read-only. Only the export of the data "
                 "is possible.")


def _terminate(tenant):
    with use_tenant(None):
        acts.terminate_tenant(actor=Actor.system("test"), tenant=tenant)
    tenant.refresh_from_db()


def _workspaces(tenant) -> int:
    with use_tenant(tenant):
        return Workspace.objects.count()


def test_non_admin_session_is_ended_and_sign_in_refused(tenant, admin, editor, console_client):
    client = console_client(editor)
    assert client.get("/t/acme/").status_code == 200
    _terminate(tenant)
    response = client.get("/t/acme/", follow=True)
    assert response.redirect_chain and "/accounts/login/" in response.redirect_chain[-1][0]
    assert _says(response.content.decode().replace("&#x27;", "'"), GRACE)
    assert "_auth_user_id" not in client.session
    # A fresh password sign-in by the editor ends signed out too.
    fresh = Client()
    response = fresh.post("/t/acme/accounts/login/", {"login": editor.email, "password": PASSWORD})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert "_auth_user_id" not in fresh.session
    assert fresh.get("/t/acme/").status_code == 302


def test_admin_reads_but_cannot_write(tenant, admin, console_client):
    _terminate(tenant)
    client = console_client(admin)
    page = client.get("/t/acme/")
    assert page.status_code == 200 and 'id="termination-banner"' in page.content.decode()
    assert client.get("/t/acme/workspaces/").status_code == 200
    before = _workspaces(tenant)
    response = client.post("/t/acme/workspaces/new/", {"name": "New", "description": ""})
    assert response.status_code == 403
    assert _says(response.content.decode().replace("&#x27;", "'"), GRACE)
    assert _workspaces(tenant) == before
    # The export is allowed (whatever the export page answers, it is not the grace refusal).
    export = client.post("/t/acme/settings/data/export/", {})
    assert export.status_code != 403 or not _says(export.content.decode().replace("&#x27;", "'"), GRACE)
    # Signing out works.
    assert client.post("/t/acme/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_admin_can_still_sign_in(tenant, admin):
    _terminate(tenant)
    client = Client()
    response = client.post("/t/acme/accounts/login/", {"login": admin.email, "password": PASSWORD})
    assert response.status_code == 302 and "/accounts/login/" not in response["Location"]
    assert client.get("/t/acme/").status_code == 200


def test_api_during_grace(tenant, admin, viewer, api_token, api_client):
    admin_token, viewer_token = api_token(admin), api_token(viewer)
    _terminate(tenant)
    refused = api_client(viewer_token).get("/api/v1/me")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert _says(refused.json()["detail"], API_ADMINS)
    admin_api = api_client(admin_token)
    assert admin_api.get("/api/v1/me").status_code == 200
    before = _workspaces(tenant)
    write = admin_api.post("/api/v1/workspaces", {"name": "X"}, content_type="application/json")
    assert write.status_code == 403 and _says(write.json()["detail"], API_READ_ONLY)
    assert _workspaces(tenant) == before
    export = admin_api.post("/api/v1/data/exports", {}, content_type="application/json")
    assert export.status_code != 403 or not _says(export.json().get("detail", ""), API_READ_ONLY)


def test_other_tenant_unaffected(tenant, other_tenant, outsider, console_client):
    _terminate(tenant)
    client = console_client(outsider)
    response = client.post("/t/globex/workspaces/new/", {"name": "Still working", "description": ""})
    assert response.status_code == 302
    assert _workspaces(other_tenant) == 1


def test_cancel_restores_writes(tenant, admin, editor, console_client):
    _terminate(tenant)
    with use_tenant(None):
        acts.cancel_termination(actor=Actor.system("test"), tenant=tenant)
    client = console_client(editor)
    assert client.post("/t/acme/workspaces/new/", {"name": "Back", "description": ""}).status_code == 302


# --- the console page ------------------------------------------------------------------------

def test_console_terminate_with_typed_slug(tenant, admin, console_client):
    client = console_client(admin)
    page = client.get("/t/acme/settings/data/")
    assert page.status_code == 200 and "/settings/data/termination/" in page.content.decode()
    assert client.get("/t/acme/settings/data/termination/").status_code == 200
    wrong = client.post("/t/acme/settings/data/termination/", {"confirm_slug": "acm", "reason": ""})
    assert wrong.status_code == 422 and "acme" in wrong.content.decode()
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE and not Termination.objects.exists()
    ok = client.post("/t/acme/settings/data/termination/", {"confirm_slug": "acme", "reason": "done"})
    assert ok.status_code == 302
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.TERMINATING
    shown = client.get("/t/acme/settings/data/termination/")
    assert shown.status_code == 200 and 'id="termination-ends"' in shown.content.decode()


def test_console_terminate_needs_reauthentication(tenant, admin, console_client):
    client = console_client(admin, reauthenticated=False)
    import time

    session = client.session  # as if the sign-in happened long ago
    session["account_authentication_methods"] = [
        {**m, "at": time.time() - 3600} for m in session.get("account_authentication_methods", [])]
    session.save()
    response = client.post("/t/acme/settings/data/termination/", {"confirm_slug": "acme"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_console_page_is_for_admins_only(role, request, console_client, tenant):
    user = request.getfixturevalue(role)
    client = console_client(user)
    assert client.get("/t/acme/settings/data/termination/").status_code == 403
    assert client.post("/t/acme/settings/data/termination/", {"confirm_slug": "acme"}).status_code == 403
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
