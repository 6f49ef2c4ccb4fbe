"""Console page and API of the SSO connection."""

from __future__ import annotations

from mamori.audit.models import AuditEvent
from mamori.sso.models import SsoConnection

FORM = {"protocol": "oidc", "name": "Keycloak", "issuer": "https://kc.example.com/realms/acme", "client_id": "mamori",
        "client_secret": "kc-secret-123", "enabled": "on", "jit_role": "viewer"}


def test_console_page_saves_and_shows_idp_values(tenant, admin, console_client):
    client = console_client(admin)
    page = client.get("/t/acme/settings/security/sso/")
    assert page.status_code == 200
    response = client.post("/t/acme/settings/security/sso/", FORM)
    assert response.status_code == 302, response.content[:800]
    conn = SsoConnection.objects.get()
    page = client.get("/t/acme/settings/security/sso/").content.decode()
    assert f"http://testserver/t/acme/accounts/oidc/{conn.provider_id}/login/callback/" in page
    assert "kc-secret-123" not in page
    assert client.get("/t/acme/settings/security/").content.decode().count("/settings/security/sso/") == 1


def test_console_page_needs_reauthentication(tenant, admin, console_client):
    client = console_client(admin, reauthenticated=False)
    response = client.post("/t/acme/settings/security/sso/", FORM)
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not SsoConnection.objects.exists()


def test_console_page_refuses_non_admin(tenant, editor, console_client):
    assert console_client(editor).get("/t/acme/settings/security/sso/").status_code == 403


def test_console_form_errors_are_shown(tenant, admin, console_client):
    response = console_client(admin).post("/t/acme/settings/security/sso/", {**FORM, "issuer": "nope"})
    assert response.status_code == 200
    assert not SsoConnection.objects.exists()


def test_api_put_get_secret_write_only(tenant, admin, editor, api_token, api_client):
    client = api_client(api_token(admin))
    assert client.get("/api/v1/security/sso").status_code == 404
    body = {"name": "Okta", "issuer": "https://acme.okta.com", "client_id": "0oa1", "client_secret": "okta-secret",
            "enabled": True, "jit_enabled": True, "jit_role": "editor"}
    response = client.put("/api/v1/security/sso", body, content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["client_secret_set"] is True and "client_secret" not in data
    assert data["redirect_uri"].endswith(f"/t/acme/accounts/oidc/sso{SsoConnection.objects.get().pk}/login/callback/")
    assert "okta-secret" not in client.get("/api/v1/security/sso").content.decode()
    bad = client.put("/api/v1/security/sso", {**body, "issuer": "ftp://x"}, content_type="application/json")
    assert bad.status_code == 422
    assert AuditEvent.objects.filter(action="sso.connection_updated").count() == 1
    other = api_client(api_token(editor))
    assert other.get("/api/v1/security/sso").status_code == 403
    assert other.put("/api/v1/security/sso", body, content_type="application/json").status_code == 403


def test_api_saml_connection_shows_sp_values(tenant, admin, api_token, api_client, settings):
    settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK = True
    client = api_client(api_token(admin))
    body = {"protocol": "saml", "name": "Entra", "saml_idp_entity_id": "https://sts.windows.net/x/",
            "saml_metadata_url": "https://login.microsoftonline.com/x/federationmetadata/2007-06/federationmetadata.xml"}
    response = client.put("/api/v1/security/sso", body, content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    pk = SsoConnection.objects.get().pk
    assert data["acs_url"].endswith(f"/t/acme/accounts/saml/sso{pk}/acs/")
    assert data["sp_entity_id"].endswith(f"/t/acme/accounts/saml/sso{pk}/metadata/")
    bad = client.put("/api/v1/security/sso", {**body, "saml_metadata_url": ""}, content_type="application/json")
    assert bad.status_code == 422


def test_console_saml_page_shows_acs(tenant, admin, console_client):
    client = console_client(admin)
    form = {"protocol": "saml", "name": "Okta SAML", "saml_idp_entity_id": "http://www.okta.com/exk1",
            "saml_metadata_url": "https://acme.okta.com/app/exk1/sso/saml/metadata", "jit_role": "viewer"}
    assert client.post("/t/acme/settings/security/sso/", form).status_code == 302
    page = client.get("/t/acme/settings/security/sso/").content.decode()
    assert "/accounts/saml/sso" in page and "/acs/" in page
