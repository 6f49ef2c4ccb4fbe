"""SAML 2.0 single sign-on against a real pysaml2 identity provider on loopback."""

from __future__ import annotations

import datetime as dt
import time
from unittest import mock

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from mamori.access.roles import Role
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.sso.actions import save_connection
from mamori.sso.provider import identity_uid
from tests.sso.saml_idp import parse_form


def browser() -> Client:
    """A client that sends a Host header, as every browser does (python3-saml reads it)."""
    return Client(HTTP_HOST="testserver")


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK = True


@pytest.fixture
def saml_conn(tenant, admin, saml_idp):
    """The tenant's SAML connection to the test IdP (metadata XML), with the IdP trusting Mamori."""

    def _make(**options):
        fields = {"protocol": "saml", "name": "Test SAML IdP", "enabled": True,
                  "saml_idp_entity_id": saml_idp.entity_id, "saml_metadata_xml": saml_idp.metadata_xml()}
        fields.update(options)
        conn = save_connection(actor=Actor.for_user(admin), **fields)
        metadata = browser().get(f"/t/{tenant.slug}/accounts/saml/{conn.provider_id}/metadata/")
        assert metadata.status_code == 200, metadata.content[:500]
        saml_idp.trust_sp(metadata.content.decode())
        return conn

    return _make


def saml_post(tenant, conn, idp, client=None):
    """Start at Mamori, get the IdP's signed answer (the auto-post form), return (client, form fields)."""
    client = client or browser()
    response = client.post(f"/t/{tenant.slug}/accounts/saml/{conn.provider_id}/login/")
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(idp.base)
    page = requests.get(response["Location"], timeout=10)
    assert page.status_code == 200, page.text[:500]
    action, fields = parse_form(page.text)
    assert action.startswith("http://testserver/")
    return client, action[len("http://testserver"):], fields


def deliver(client, acs_path, fields):
    response = client.post(acs_path, fields)
    assert response.status_code == 302, response.content[:500]
    return client.get(response["Location"])


def _last_refusal():
    return AuditEvent.objects.filter(action="sso.login_failed").latest("pk").after["reason"]


def test_existing_user_signs_in_with_saml(tenant, viewer, saml_conn, saml_idp):
    conn = saml_conn()
    page = browser().get(f"/t/{tenant.slug}/accounts/login/").content.decode()
    assert "Test SAML IdP" in page and f"/accounts/saml/{conn.provider_id}/login/" in page
    saml_idp.set_user("viewer-nameid", viewer.email, "Viewer")
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    response = deliver(client, acs, fields)
    assert response.status_code == 302, response.content[:800]
    assert client.get(f"/t/{tenant.slug}/").status_code == 200
    account = SocialAccount.objects.get(user=viewer)
    assert account.uid == identity_uid(saml_idp.entity_id, "viewer-nameid")
    assert AuditEvent.objects.filter(action="auth.login").latest("pk").after["method"] == "sso_saml"


def test_metadata_url_connection_and_jit(tenant, saml_conn, saml_idp):
    conn = saml_conn(saml_metadata_xml="", saml_metadata_url=saml_idp.entity_id, jit_enabled=True,
                     jit_role=Role.EDITOR)
    saml_idp.set_user("new-nameid", "saml-new@example.com", "Saml New")
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    assert deliver(client, acs, fields).status_code == 302
    user = User.objects.get(email="saml-new@example.com")
    assert user.role == Role.EDITOR and user.name == "Saml New"


def test_jit_off_refuses_unknown_user(tenant, saml_conn, saml_idp):
    conn = saml_conn()
    saml_idp.set_user("nobody", "nobody@example.com")
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    response = deliver(client, acs, fields)
    assert response.status_code == 403
    assert _last_refusal() == "no_account"


def test_replayed_assertion_is_refused(tenant, viewer, saml_conn, saml_idp):
    conn = saml_conn()
    saml_idp.set_user("viewer-nameid", viewer.email)
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    assert deliver(client, acs, fields).status_code == 302
    # The same response posted again (by an attacker who captured it, in a fresh browser).
    response = deliver(browser(), acs, fields)
    assert response.status_code == 403
    assert _last_refusal() == "replayed_assertion"


def test_bad_signature_is_refused(tenant, viewer, saml_conn, saml_idp):
    conn = saml_conn()
    saml_idp.set_user("viewer-nameid", "someone@example.com")
    saml_idp.tamper = lambda xml: xml.replace("someone@example.com", viewer.email)
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    response = deliver(client, acs, fields)
    assert response.status_code == 403
    assert _last_refusal() == "bad_signature"
    assert not SocialAccount.objects.filter(user=viewer).exists()


def test_wrong_audience_is_refused(tenant, viewer, saml_conn, saml_idp):
    conn = saml_conn()
    saml_idp.set_user("viewer-nameid", viewer.email)
    saml_idp.audience = "https://another-sp.example.com/metadata"
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    response = deliver(client, acs, fields)
    assert response.status_code == 403
    assert _last_refusal() == "wrong_audience"


def test_expired_assertion_is_refused(tenant, viewer, saml_conn, saml_idp):
    conn = saml_conn()
    saml_idp.set_user("viewer-nameid", viewer.email)
    client, acs, fields = saml_post(tenant, conn, saml_idp)
    later = int(time.time() + dt.timedelta(hours=2).total_seconds())
    # The assertion arrives two hours later (the IdP's validity is 15 minutes).
    with mock.patch("onelogin.saml2.utils.OneLogin_Saml2_Utils.now", return_value=later):
        response = deliver(client, acs, fields)
    assert response.status_code == 403
    assert _last_refusal() == "expired"


def test_unsolicited_response_is_refused(tenant, viewer, saml_conn, saml_idp):
    conn = saml_conn()
    saml_idp.set_user("viewer-nameid", viewer.email)
    _, acs, fields = saml_post(tenant, conn, saml_idp)
    response = deliver(browser(), acs, fields)  # a browser that never started this sign-in
    assert response.status_code == 403
    assert _last_refusal() == "unsolicited_response"


def test_invalid_metadata_is_refused(tenant, admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        save_connection(actor=Actor.for_user(admin), protocol="saml", name="X", saml_idp_entity_id="urn:x",
                        saml_metadata_xml="<not-metadata/>")
    assert "saml_metadata_xml" in exc.value.message_dict



def test_metadata_on_a_private_address_is_never_fetched(tenant, settings):
    """SSRF guard: Mamori fetches the metadata itself, public addresses only."""
    from mamori.core.outbound import UnsafeDestination
    from mamori.sso.adapter import fetch_saml_metadata
    from mamori.sso.models import SsoConnection

    settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK = False
    for url in ("http://127.0.0.1:9/metadata", "https://169.254.169.254/latest/meta-data/",
                "https://10.0.0.5/saml/metadata"):
        conn = SsoConnection(tenant=tenant, protocol=SsoConnection.Protocol.SAML, saml_metadata_url=url,
                             saml_idp_entity_id="https://idp.example")
        with pytest.raises(UnsafeDestination):
            fetch_saml_metadata(conn)
