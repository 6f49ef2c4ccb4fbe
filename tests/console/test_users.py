"""Users list (users.view)."""

from __future__ import annotations

from mamori.access.roles import Role
from tests.console.conftest import XSS, assert_escaped


def test_admin_sees_users_with_role_status_and_last_sign_in(admin_client, editor, viewer):
    response = admin_client.get(f"{admin_client.tenant_prefix}/users/")
    html = response.content.decode()
    assert response.status_code == 200
    for user in (editor, viewer):
        assert user.email in html
    assert "+09:00" in html  # the admin's own last sign-in, in the tenant's zone


def test_users_of_other_tenants_are_not_listed(admin_client, outsider):
    assert outsider.email not in admin_client.get(f"{admin_client.tenant_prefix}/users/").content.decode()


def test_roles_without_users_view_get_403(editor_client, viewer_client):
    for client in (editor_client, viewer_client):
        assert client.get(f"{client.tenant_prefix}/users/").status_code == 403


def test_names_are_escaped(admin_client, user_factory, tenant):
    user = user_factory(tenant, "evil@acme.example", Role.VIEWER)
    user.name = XSS
    user.save()
    assert_escaped(admin_client.get(f"{admin_client.tenant_prefix}/users/").content.decode())
