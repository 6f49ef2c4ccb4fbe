"""OIDC single sign-on against a real OpenID Provider (npm oidc-provider on loopback)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from mamori.access.roles import Role
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.sso.actions import save_connection
from mamori.sso.models import SsoConnection
from mamori.sso.provider import identity_uid
from tests.sso.conftest import CLIENT_ID, CLIENT_SECRET

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _loopback_issuer(settings):
    settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK = True


def _configure(admin, issuer="http://127.0.0.1:9", **options) -> SsoConnection:
    fields = {"name": "Test IdP", "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "enabled": True, "jit_enabled": False, "jit_role": Role.VIEWER}
    fields.update(options)
    return save_connection(actor=Actor.for_user(admin), **fields)


@pytest.fixture
def op_factory(tenant, admin, start_op):
    """Configure the tenant's connection and start an IdP whose client points back at it."""

    def _make(*, misbehave: str = "", issuer_at_op: str | None = None, **options):
        conn = _configure(admin, **options)
        callback = f"http://testserver/t/{tenant.slug}/accounts/oidc/{conn.provider_id}/login/callback/"
        op = start_op(callback, misbehave=misbehave, issuer=issuer_at_op)
        conn = _configure(admin, issuer=op.base, **options)
        return conn, op

    return _make


def sso_sign_in(tenant, conn, op, *, tamper=None, client=None):
    client = client or Client()
    response = client.post(f"/t/{tenant.slug}/accounts/oidc/{conn.provider_id}/login/")
    assert response.status_code == 302, response.content[:300]
    url = response["Location"]
    assert url.startswith(op.base)
    if tamper:
        url = tamper(url)
    callback = op.authorize(url)
    return client, client.get(callback)


def _events(name):
    return list(AuditEvent.objects.filter(action=name).order_by("pk"))


def test_login_page_shows_sso_button(tenant, admin, op_factory):
    conn, _ = op_factory()
    page = Client().get(f"/t/{tenant.slug}/accounts/login/").content.decode()
    assert "Test IdP" in page
    assert f"/t/{tenant.slug}/accounts/oidc/{conn.provider_id}/login/" in page
    assert 'name="password"' in page


def test_existing_user_signs_in_and_is_linked_by_issuer_and_subject(tenant, admin, viewer, op_factory):
    conn, op = op_factory()
    op.set_user("sub-viewer-1", viewer.email, name="V")
    client, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 302, response.content[:500]
    assert client.get(f"/t/{tenant.slug}/").status_code == 200
    account = SocialAccount.objects.get(user=viewer)
    assert account.provider == conn.provider_id
    assert account.uid == identity_uid(op.issuer, "sub-viewer-1")
    login = _events("auth.login")[-1]
    assert login.after["method"] == "sso_oidc"
    assert _events("sso.identity_linked")

    # The next sign-in finds the user by issuer + subject even when the IdP's e-mail changed.
    op.set_user("sub-viewer-1", "renamed@example.com")
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 302


def test_same_email_other_subject_is_refused(tenant, admin, viewer, op_factory):
    conn, op = op_factory()
    op.set_user("sub-a", viewer.email)
    assert sso_sign_in(tenant, conn, op)[1].status_code == 302
    op.set_user("sub-b", viewer.email)  # an IdP account recycled to the same address
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert _events("sso.login_failed")[-1].after["reason"] == "identity_conflict"


def test_unverified_email_is_not_linked(tenant, admin, viewer, op_factory):
    conn, op = op_factory()
    op.set_user("sub-x", viewer.email, email_verified=False)
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert not SocialAccount.objects.filter(user=viewer).exists()


def test_jit_off_refuses_unknown_user(tenant, admin, op_factory):
    conn, op = op_factory(jit_enabled=False)
    op.set_user("sub-new", "newcomer@example.com")
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert "no account" in response.content.decode().lower() or response.status_code == 403
    assert not User.objects.filter(email="newcomer@example.com").exists()
    assert _events("sso.login_failed")[-1].after["reason"] == "no_account"


def test_jit_on_creates_user_with_default_role(tenant, admin, op_factory):
    conn, op = op_factory(jit_enabled=True, jit_role=Role.EDITOR)
    op.set_user("sub-new", "newcomer@example.com", name="New Comer")
    client, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 302, response.content[:500]
    user = User.objects.get(email="newcomer@example.com")
    assert user.role == Role.EDITOR and user.name == "New Comer"
    assert not user.has_usable_password()
    assert _events("sso.user_provisioned") and _events("user.created")
    # The new user works in the console at once: no password to set, none asked for.
    page = client.get("/t/acme/")
    assert page.status_code == 200, page.get("Location")


def test_wrong_nonce_is_refused(tenant, admin, viewer, op_factory):
    conn, op = op_factory()
    op.set_user("sub-n", viewer.email)

    def tamper(url):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query["nonce"] = "attacker-chosen-nonce"
        return urlunsplit(parts._replace(query=urlencode(query)))

    _, response = sso_sign_in(tenant, conn, op, tamper=tamper)
    assert response.status_code == 403
    assert _events("sso.login_failed")[-1].after["reason"] == "wrong_nonce"
    assert not SocialAccount.objects.filter(user=viewer).exists()


def test_wrong_issuer_is_refused(tenant, admin, viewer, op_factory):
    # The provider says it is another issuer than the one configured at Mamori.
    conn, op = op_factory(issuer_at_op="http://localhost:1")
    op.set_user("sub-i", viewer.email)
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert _events("sso.login_failed")[-1].after["reason"] == "wrong_issuer"


def test_token_with_wrong_issuer_claim_is_refused(tenant, admin, viewer, op_factory):
    conn, op = op_factory(misbehave="iss")
    op.set_user("sub-i2", viewer.email)
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert _events("sso.login_failed")[-1].after["reason"] == "wrong_issuer"


def test_wrong_audience_is_refused(tenant, admin, viewer, op_factory):
    conn, op = op_factory(misbehave="aud")
    op.set_user("sub-aud", viewer.email)
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert _events("sso.login_failed")[-1].after["reason"] == "wrong_audience"
    assert not SocialAccount.objects.filter(user=viewer).exists()


def test_id_token_signed_with_an_unpublished_key_is_refused(tenant, admin, viewer, op_factory):
    """Even straight from the token endpoint over TLS, the signature is checked (ASVS V6.8.2)."""
    conn, op = op_factory(misbehave="sig")
    op.set_user("sub-sig", viewer.email)
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403
    assert _events("sso.login_failed")[-1].after["reason"]
    assert not SocialAccount.objects.filter(user=viewer).exists()


def test_suspended_user_is_refused(tenant, admin, viewer, op_factory):
    conn, op = op_factory()
    op.set_user("sub-s", viewer.email)
    assert sso_sign_in(tenant, conn, op)[1].status_code == 302
    User.objects.filter(pk=viewer.pk).update(is_active=False)
    _, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 403


def test_connection_of_one_tenant_is_unknown_at_another(tenant, other_tenant, admin, op_factory):
    conn, _ = op_factory()
    response = Client().post(f"/t/{other_tenant.slug}/accounts/oidc/{conn.provider_id}/login/")
    assert response.status_code == 404


def test_an_issuer_on_a_private_address_is_never_called(tenant, admin, viewer, op_factory, settings):
    """SSRF guard: discovery, token and JWKS requests go to public addresses only."""
    conn, op = op_factory()
    op.set_user("sub-ssrf", viewer.email)
    settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK = False  # the test IdP listens on 127.0.0.1
    response = Client().post(f"/t/{tenant.slug}/accounts/oidc/{conn.provider_id}/login/")
    assert response.status_code == 403, response.status_code
    assert _events("sso.login_failed")[-1].after["reason"] == "provider_unreachable"
    assert "non-public address" in _events("sso.login_failed")[-1].after["detail"]
    assert not SocialAccount.objects.filter(user=viewer).exists()


def test_sso_sign_in_still_asks_for_mamoris_second_factor(tenant, admin, viewer, op_factory, monkeypatch):
    """ASVS 6.8.4: Mamori does not trust the IdP's claims about MFA; a user with a second factor
    enters it after the IdP, exactly as after a password, before any console page opens."""
    from tests.multifactor.helpers import code, enrol, freeze, mfa_step

    freeze(monkeypatch)
    secret = enrol(viewer)
    conn, op = op_factory()
    op.set_user("sub-viewer-mfa", viewer.email, name="V")
    client, response = sso_sign_in(tenant, conn, op)
    assert response.status_code == 302 and "/accounts/2fa/authenticate/" in response["Location"]
    assert client.get(f"/t/{tenant.slug}/").status_code == 302  # not signed in yet
    assert not [e for e in _events("auth.login") if e.actor_id == str(viewer.pk)]
    assert mfa_step(viewer, client, code(secret)).status_code == 302
    assert client.get(f"/t/{tenant.slug}/").status_code == 200
    assert _events("auth.login")[-1].after["method"] == "sso_oidc"
