"""The tenant MFA policy, its enforcement per role, the admin reset and the API."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.multifactor.actions import reset_mfa, update_mfa_policy
from mamori.tenancy.context import use_tenant
from tests.multifactor.helpers import code, enrol, freeze, mfa_step, password_step

pytestmark = pytest.mark.django_db


def _set(admin, requirement):
    with use_tenant(admin.tenant):
        update_mfa_policy(actor=Actor.for_user(admin), requirement=requirement)


def _home(user, client):
    return client.get(f"/t/{user.tenant.slug}/")


@pytest.mark.parametrize("requirement,role,forced", [
    ("optional", Role.TENANT_ADMIN, False),
    ("admins", Role.TENANT_ADMIN, True),
    ("admins", Role.UNIT_ADMIN, True),
    ("admins", Role.EDITOR, False),
    ("everyone", Role.VIEWER, True),
])
def test_enforcement_per_role(admin, user_factory, console_client, requirement, role, forced):
    user = user_factory(admin.tenant, f"{role}@acme.example", role)
    _set(admin, requirement)
    client = console_client(user)
    response = _home(user, client)
    if forced:
        assert response.status_code == 302
        assert response["Location"].endswith("/accounts/2fa/")
        # only enrolment pages stay reachable
        assert client.get("/t/acme/records/").status_code == 302
        assert client.get("/t/acme/accounts/2fa/").status_code == 200
        assert client.get("/t/acme/accounts/2fa/totp/activate/").status_code == 200
    else:
        assert response.status_code == 200


def test_enrolment_frees_the_user(admin, console_client, monkeypatch):
    freeze(monkeypatch)
    _set(admin, "admins")
    client = console_client(admin)
    assert _home(admin, client).status_code == 302
    client.get("/t/acme/accounts/2fa/totp/activate/")
    secret = client.session["mfa.totp.secret"]
    assert client.post("/t/acme/accounts/2fa/totp/activate/", {"code": code(secret)}).status_code == 302
    assert _home(admin, client).status_code == 200
    # the last factor cannot be removed while the policy requires one
    response = client.post("/t/acme/accounts/2fa/totp/deactivate/")
    assert response.status_code == 200
    with use_tenant(admin.tenant):
        assert Authenticator.objects.filter(user_id=admin.pk, type="totp").exists()


def test_policy_change_audited_and_permission(admin, editor):
    _set(admin, "everyone")
    with use_tenant(admin.tenant):
        event = AuditEvent.objects.get(action="security.mfa_policy_updated")
        assert event.before == {"requirement": "optional"} and event.after == {"requirement": "everyone"}
        from mamori.access.errors import PermissionDenied
        with pytest.raises(PermissionDenied):
            update_mfa_policy(actor=Actor.for_user(editor), requirement="optional")
        from django.core.exceptions import ValidationError
        with pytest.raises(ValidationError):
            update_mfa_policy(actor=Actor.for_user(admin), requirement="sometimes")


def test_console_policy_page_needs_reauth(admin, console_client):
    client = console_client(admin, reauthenticated=False)
    assert client.get("/t/acme/settings/security/mfa/").status_code == 200
    response = client.post("/t/acme/settings/security/mfa/", {"requirement": "everyone"})
    assert "reauthenticate" in response["Location"]
    client = console_client(admin)
    assert "security/mfa/" in client.get("/t/acme/settings/security/").content.decode()
    response = client.post("/t/acme/settings/security/mfa/", {"requirement": "admins"})
    assert response.status_code == 302
    with use_tenant(admin.tenant):
        assert AuditEvent.objects.filter(action="security.mfa_policy_updated").exists()


def test_viewer_cannot_open_policy_page(viewer, console_client):
    assert console_client(viewer).get("/t/acme/settings/security/mfa/").status_code == 403


def test_admin_reset_rules(admin, user_factory, editor):
    unit_admin = user_factory(admin.tenant, "ua@acme.example", Role.UNIT_ADMIN)
    other_admin = user_factory(admin.tenant, "admin2@acme.example", Role.TENANT_ADMIN)
    for user in (editor, unit_admin, other_admin):
        enrol(user)
    enrol(admin)
    with use_tenant(admin.tenant):
        from mamori.access.errors import NotFound, PermissionDenied
        # a unit admin never acts on admins (404 like any user outside their scope)
        with pytest.raises(NotFound):
            reset_mfa(actor=Actor.for_user(unit_admin), user=other_admin)
        # an editor has no users.manage
        with pytest.raises(PermissionDenied):
            reset_mfa(actor=Actor.for_user(editor), user=other_admin)
        # never on oneself
        with pytest.raises(PermissionDenied):
            reset_mfa(actor=Actor.for_user(admin), user=admin)
        reset_mfa(actor=Actor.for_user(admin), user=other_admin)
        assert not Authenticator.objects.filter(user_id=other_admin.pk).exists()
        event = AuditEvent.objects.get(action="mfa.reset")
        assert event.target_id == str(other_admin.pk)
        assert set(event.before["types"]) == {"totp", "recovery_codes"}
        assert not AuditEvent.objects.filter(action="mfa.authenticator_removed").exists()


def test_reset_signs_user_out_and_they_enrol_again(admin, editor, console_client, monkeypatch):
    freeze(monkeypatch)
    _set(admin, "everyone")
    secret = enrol(editor)
    client, _ = password_step(editor)
    assert mfa_step(editor, client, code(secret)).status_code == 302
    assert _home(editor, client).status_code == 200
    admin_client = console_client(admin)
    enrol(admin)
    response = admin_client.post(f"/t/acme/users/{editor.pk}/reset-mfa/")
    assert response.status_code == 302
    assert _home(editor, client).status_code == 302  # signed out
    fresh = console_client(editor)  # password alone now, then straight to enrolment
    assert _home(editor, fresh)["Location"].endswith("/accounts/2fa/")


def test_reset_button_needs_reauth(admin, editor, console_client):
    enrol(editor)
    client = console_client(admin, reauthenticated=False)
    response = client.post(f"/t/acme/users/{editor.pk}/reset-mfa/")
    assert "reauthenticate" in response["Location"]
    with use_tenant(admin.tenant):
        assert Authenticator.objects.filter(user_id=editor.pk).exists()


def test_api(admin, editor, viewer, api_token, api_client):
    enrol(editor)
    client = api_client(api_token(admin))
    assert client.get("/api/v1/security/mfa-policy").json() == {"requirement": "optional"}
    response = client.put("/api/v1/security/mfa-policy", {"requirement": "admins"}, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"requirement": "admins"}
    bad = client.put("/api/v1/security/mfa-policy", {"requirement": "never"}, content_type="application/json")
    assert bad.status_code == 422
    assert client.post(f"/api/v1/users/{editor.pk}/reset-mfa").status_code == 204
    assert client.post(f"/api/v1/users/{editor.pk}/reset-mfa").status_code == 422  # nothing left to reset
    assert client.post("/api/v1/users/999999/reset-mfa").status_code == 404
    viewer_client = api_client(api_token(viewer))
    assert viewer_client.get("/api/v1/security/mfa-policy").status_code == 403
    assert viewer_client.post(f"/api/v1/users/{editor.pk}/reset-mfa").status_code == 403


def test_login_link_does_not_skip_the_second_factor(admin, editor, monkeypatch):
    """A one-time sign-in link opens a session without allauth's MFA step: a user with a
    second factor must confirm it before anything else."""
    from django.test import Client

    from mamori.accounts import actions

    freeze(monkeypatch)
    secret = enrol(editor)
    with use_tenant(admin.tenant):
        link = actions.issue_login_link(actor=Actor.for_user(admin), user=editor)
    client = Client()
    response = client.post(f"/t/acme/welcome/{link}/")
    assert response.status_code == 302
    home = _home(editor, client)
    assert home.status_code == 302 and "/accounts/2fa/reauthenticate/" in home["Location"]
    assert client.get("/t/acme/records/").status_code == 302
    wrong = client.post("/t/acme/accounts/2fa/reauthenticate/", {"code": "000000" if code(secret) != "000000" else "1"})
    assert wrong.status_code == 200
    ok = client.post("/t/acme/accounts/2fa/reauthenticate/", {"code": code(secret)})
    assert ok.status_code == 302
    assert _home(editor, client).status_code == 200


def test_login_link_without_mfa_is_unchanged(admin, editor):
    from django.test import Client

    from mamori.accounts import actions

    with use_tenant(admin.tenant):
        link = actions.issue_login_link(actor=Actor.for_user(admin), user=editor)
    client = Client()
    client.post(f"/t/acme/welcome/{link}/")
    assert _home(editor, client).status_code == 200
