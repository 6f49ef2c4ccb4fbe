"""Destructive and privilege-raising console actions ask for the password again first
(conventions §5), keep the submitted form, and carry it out once it is confirmed."""

from __future__ import annotations

from mamori.access.roles import Role
from mamori.accounts.models import User
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import apply_db_tenant, current_tenant
from tests.conftest import PASSWORD


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


def _post(client, path, data=None):
    response = client.post(path, data or {})
    _restore()
    return response


def test_deleting_a_user_asks_for_the_password_then_deletes(admin, editor, console_client):
    client = console_client(admin, reauthenticated=False)
    path = f"/t/acme/users/{editor.pk}/delete/"
    response = _post(client, path, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == "/t/acme/accounts/reauthenticate/"
    assert User.objects.filter(pk=editor.pk).exists()  # nothing happened yet
    response = _post(client, response["Location"], {"password": "not my password"})
    assert response.status_code == 200 and User.objects.filter(pk=editor.pk).exists()
    response = _post(client, "/t/acme/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    assert not User.objects.filter(pk=editor.pk).exists()
    assert AuditEvent.objects.filter(action="user.deleted", target_id=str(editor.pk)).exists()
    # Within the window the next destructive change goes straight through.
    viewer = User.objects.create(tenant=admin.tenant, email="v2@acme.example", role=Role.VIEWER)
    response = _post(client, f"/t/acme/users/{viewer.pk}/suspend/")
    assert response.status_code == 302 and "reauthenticate" not in response["Location"]
    assert not User.objects.get(pk=viewer.pk).is_active


def test_granting_an_admin_role_needs_it_but_ordinary_invitations_do_not(admin, console_client):
    client = console_client(admin, reauthenticated=False)
    response = _post(client, "/t/acme/users/invite/", {"email": "new@acme.example", "role": Role.EDITOR,
                                                         "language": ""})
    assert response.status_code == 302 and "reauthenticate" not in response["Location"]
    response = _post(client, "/t/acme/users/invite/", {"email": "boss@acme.example", "role": Role.TENANT_ADMIN,
                                                         "language": ""})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not User.objects.filter(email="boss@acme.example").exists()


def test_reading_never_asks(admin, editor, console_client):
    client = console_client(admin, reauthenticated=False)
    for path in (f"/t/acme/users/{editor.pk}/delete/", f"/t/acme/users/{editor.pk}/edit/",
                 "/t/acme/settings/password-policy/"):
        response = client.get(path)
        _restore()
        assert response.status_code == 200, path


def test_a_kept_form_with_errors_is_shown_again_posting_to_its_own_page(admin, console_client):
    """After the password, an invalid kept form is re-rendered at the re-authentication URL;
    its next submit must go to the form's own page, not to the re-authentication view."""
    client = console_client(admin, reauthenticated=False)
    path = "/t/acme/settings/password-policy/"
    response = _post(client, path, {"min_length": "3", "max_length": "2"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    response = _post(client, "/t/acme/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 200
    assert f'action="{path}"' in response.content.decode()


def test_confirming_the_password_gives_the_session_a_new_id(admin, editor, console_client):
    client = console_client(admin, reauthenticated=False)
    before = client.cookies["sessionid"].value
    _post(client, f"/t/acme/users/{editor.pk}/suspend/")
    response = _post(client, "/t/acme/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != before
    assert not User.objects.get(pk=editor.pk).is_active  # the kept form was carried out
    assert client.get("/t/acme/").status_code == 200  # still signed in under the new id
