"""SCIM tokens over the API: security managers list and revoke them; nobody mints them there."""

from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant

URL = "/api/v1/security/scim-tokens"


def test_admin_lists_tokens_without_secrets_and_revokes_one(tenant, admin, make_scim_token, api_token,
                                                             api_client, scim_for):
    token, raw = make_scim_token(tenant, admin, name="Entra ID")
    client = api_client(api_token(admin))
    body = client.get(URL).json()
    assert [(t["name"], t["prefix"], t["created_by"]) for t in body["items"]] == [
        ("Entra ID", token.prefix, admin.email)]
    assert raw not in str(body) and "secret_hash" not in str(body)
    assert scim_for(raw).get("/scim/v2/Users").status_code == 200
    assert client.delete(f"{URL}/{token.pk}").status_code == 204
    assert client.delete(f"{URL}/{token.pk}").status_code == 204  # twice is fine
    assert scim_for(raw).get("/scim/v2/Users").status_code == 401
    with use_tenant(tenant):
        assert AuditEvent.objects.filter(action="scim.token_revoked").count() == 1


def test_tokens_cannot_be_created_over_the_api(admin, api_token, api_client):
    response = api_client(api_token(admin)).post(URL, {"name": "x"}, content_type="application/json")
    assert response.status_code == 405


def test_editor_is_refused_and_the_refusal_is_audited(tenant, admin, editor, make_scim_token, api_token,
                                                      api_client):
    token, _raw = make_scim_token(tenant, admin)
    client = api_client(api_token(editor))
    assert client.get(URL).status_code == 403
    assert client.delete(f"{URL}/{token.pk}").status_code == 403
    with use_tenant(tenant):
        assert AuditEvent.objects.filter(action="access.denied").count() >= 2


def test_token_of_another_tenant_is_not_found(tenant, admin, other_tenant, outsider, make_scim_token,
                                              api_token, api_client):
    token, _raw = make_scim_token(tenant, admin)
    assert api_client(api_token(outsider)).delete(f"{URL}/{token.pk}").status_code == 404
