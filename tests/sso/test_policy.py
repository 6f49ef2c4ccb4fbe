"""SSO required / break-glass admins; connection validation (no IdP needed)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.sso.actions import save_connection
from mamori.sso.models import SsoConnection

PASSWORD = "correct horse battery staple"


def _save(admin, **options):
    fields = {"name": "Corp IdP", "issuer": "https://idp.example.com", "client_id": "mamori",
              "client_secret": "s3cret-value", "enabled": True}
    fields.update(options)
    return save_connection(actor=Actor.for_user(admin), **fields)


def _password_login(tenant, user):
    return Client().post(f"/t/{tenant.slug}/accounts/login/", {"login": user.email, "password": PASSWORD})


def test_secret_is_encrypted_and_never_in_the_audit_log(tenant, admin):
    conn = _save(admin)
    assert conn.client_secret_encrypted and "s3cret-value" not in conn.client_secret_encrypted
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("pk")
    assert "s3cret-value" not in str(event.after) and event.after["client_secret"] == "[redacted]"
    # An empty secret keeps the stored one.
    again = _save(admin, client_secret="", name="Renamed")
    assert again.client_secret_encrypted == conn.client_secret_encrypted
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("pk")
    assert "client_secret" not in event.after and event.after["name"] == "Renamed"


def test_only_security_admins_configure(tenant, editor):
    with pytest.raises(PermissionDenied):
        _save(editor)
    assert AuditEvent.objects.filter(action="access.denied").exists()


@pytest.mark.parametrize("options, field", [
    ({"issuer": "not a url"}, "issuer"),
    ({"issuer": "http://idp.example.com"}, "issuer"),
    ({"jit_role": Role.TENANT_ADMIN}, "jit_role"),
    ({"jit_role": "root"}, "jit_role"),
    ({"sso_required": True}, "break_glass_user_ids"),
    ({"sso_required": True, "enabled": False}, "sso_required"),
    ({"name": ""}, "name"),
])
def test_invalid_connection_is_refused(tenant, admin, options, field):
    with pytest.raises(ValidationError) as exc:
        _save(admin, **options)
    assert field in exc.value.message_dict


def test_break_glass_must_be_tenant_admin(tenant, admin, editor):
    with pytest.raises(ValidationError) as exc:
        _save(admin, sso_required=True, break_glass_user_ids=[editor.pk])
    assert "break_glass_user_ids" in exc.value.message_dict


def test_sso_required_refuses_password_except_break_glass(tenant, admin, editor, make_tenant):
    from tests.conftest import _user

    other_admin = _user(tenant, "admin2@example.com", Role.TENANT_ADMIN)
    _save(admin, sso_required=True, break_glass_user_ids=[admin.pk])
    assert _password_login(tenant, admin).status_code == 302  # break-glass
    response = _password_login(tenant, editor)
    assert response.status_code == 200  # the form again, not signed in
    response = _password_login(tenant, other_admin)
    assert response.status_code == 200
    refused = AuditEvent.objects.filter(action="sso.password_refused").order_by("pk")
    assert [e.target_id for e in refused] == [str(editor.pk), str(other_admin.pk)]


def test_login_page_hides_password_form_when_sso_required(tenant, admin):
    _save(admin, sso_required=True, break_glass_user_ids=[admin.pk])
    page = Client().get(f"/t/{tenant.slug}/accounts/login/").content.decode()
    assert "Corp IdP" in page and 'name="password"' not in page
    page = Client().get(f"/t/{tenant.slug}/accounts/login/?password=1").content.decode()
    assert 'name="password"' in page


def test_disabled_connection_is_not_offered(tenant, admin):
    conn = _save(admin, enabled=False, client_secret="")
    page = Client().get(f"/t/{tenant.slug}/accounts/login/").content.decode()
    assert "Corp IdP" not in page
    assert Client().post(f"/t/{tenant.slug}/accounts/oidc/{conn.provider_id}/login/").status_code == 404
    assert SsoConnection.objects.count() == 1
