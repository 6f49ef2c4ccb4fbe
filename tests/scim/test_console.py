"""Settings → Security → SCIM provisioning in the console (re-authentication, token shown once)."""

from __future__ import annotations

import re

import pytest

from mamori.audit.models import AuditEvent
from mamori.scim.models import ScimToken
from tests.scim.conftest import ScimClient

pytestmark = pytest.mark.django_db


def test_page_lists_base_url_and_is_on_the_security_overview(console_client, admin):
    client = console_client(admin)
    page = client.get(f"{client.tenant_prefix}/settings/security/scim/")
    assert page.status_code == 200
    assert b"/scim/v2" in page.content
    overview = client.get(f"{client.tenant_prefix}/settings/security/")
    assert b"settings/security/scim/" in overview.content


def test_non_admins_cannot_open_it(console_client, viewer, editor):
    for user in (viewer, editor):
        client = console_client(user)
        assert client.get(f"{client.tenant_prefix}/settings/security/scim/").status_code == 403
        assert client.post(f"{client.tenant_prefix}/settings/security/scim/new/",
                           {"name": "x", "default_role": "viewer"}).status_code == 403
    assert not ScimToken.objects.exists()


def test_create_shows_the_token_once_and_it_works(console_client, admin):
    client = console_client(admin)
    response = client.post(f"{client.tenant_prefix}/settings/security/scim/new/",
                           {"name": "Entra ID", "default_role": "editor", "expires_in_days": "30"})
    assert response.status_code == 200
    raw = re.search(rb'value="(mmrscim_[0-9a-f_]+)"', response.content).group(1).decode()
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    token = ScimToken.objects.get()
    assert token.name == "Entra ID" and token.default_role == "editor" and token.created_by == admin
    assert AuditEvent.objects.filter(action="scim.token_created", actor_id=str(admin.pk)).exists()
    assert ScimClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/scim/v2/Users").status_code == 200
    page = client.get(f"{client.tenant_prefix}/settings/security/scim/")
    assert raw.encode() not in page.content and token.prefix.encode() in page.content
    # revoke
    revoked = client.post(f"{client.tenant_prefix}/settings/security/scim/{token.pk}/revoke/")
    assert revoked.status_code == 302
    assert ScimClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/scim/v2/Users").status_code == 401
    assert AuditEvent.objects.filter(action="scim.token_revoked").exists()


def test_invalid_form_is_refused(console_client, admin):
    client = console_client(admin)
    response = client.post(f"{client.tenant_prefix}/settings/security/scim/new/",
                           {"name": "", "default_role": "tenant_admin"})
    assert response.status_code == 400
    assert not ScimToken.objects.exists()


def test_creating_and_revoking_need_recent_reauthentication(console_client, admin):
    client = console_client(admin, reauthenticated=False)
    response = client.post(f"{client.tenant_prefix}/settings/security/scim/new/",
                           {"name": "Okta", "default_role": "viewer"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not ScimToken.objects.exists()


def test_revoking_another_tenants_token_is_404(console_client, admin, other_tenant, outsider, make_scim_token):
    token, _raw = make_scim_token(other_tenant, outsider)
    client = console_client(admin)
    assert client.post(f"{client.tenant_prefix}/settings/security/scim/{token.pk}/revoke/").status_code == 404
