"""Users: list, invite, create, detail, edit, suspend/reactivate, delete, sessions, invitations."""

from __future__ import annotations

import re

import pytest

from mamori.access.roles import Role
from mamori.accounts.models import ApiToken, Invitation, User
from mamori.audit.models import AuditEvent
from tests.accounts import lifecycle_fixtures as fixtures
from tests.accounts.lifecycle_fixtures import STRONG, deliver, is_signed_in, signed_in
from tests.console.conftest import XSS, assert_escaped

# Shared fixtures (pytest finds them by name in this module).
hr_user = fixtures.hr_user
org = fixtures.org
sales_user = fixtures.sales_user
unit_admin = fixtures.unit_admin


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


# --- User administration in the console (lifecycle) ---------------------------------------



def users_url(client, rest=""):
    return f"{client.tenant_prefix}/users/{rest}"


def test_list_shows_status_units_and_filters(admin_client, admin, org, sales_user, hr_user, user_factory, tenant):
    from mamori.accounts import actions
    from mamori.audit.events import Actor

    actions.invite_user(actor=Actor.for_user(admin), email="invited@acme.example", unit_ids=[org["hr"].pk])
    actions.suspend_user(actor=Actor.for_user(admin), user=hr_user)
    html = admin_client.get(users_url(admin_client)).content.decode()
    assert "invited@acme.example" in html and "Sales East" in html

    def emails(query):
        response = admin_client.get(users_url(admin_client) + query)
        return {u.email for u in response.context["users"]}
    assert emails("?status=invited") - {"owner@acme.example"} == {"invited@acme.example"}  # owner: link only
    assert emails("?status=suspended") == {hr_user.email}
    assert sales_user.email in emails("?status=active") and hr_user.email not in emails("?status=active")
    assert emails(f"?unit={org['sales'].pk}") == {sales_user.email}  # descendants included
    assert emails("?role=editor") == {sales_user.email, hr_user.email}


def test_unit_admin_sees_only_their_users(unit_admin, sales_user, hr_user, console_client):
    client = console_client(unit_admin)
    html = client.get(users_url(client)).content.decode()
    assert sales_user.email in html and hr_user.email not in html and ">admin@acme.example<" not in html


def test_invite_form_sends_the_invitation(admin_client, org, mailoutbox, django_capture_on_commit_callbacks):
    assert admin_client.get(users_url(admin_client, "invite/")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(users_url(admin_client, "invite/"), {
            "email": "inv@acme.example", "name": "Inv", "role": "editor", "unit_ids": [org["sales"].pk],
            "language": "en"})
    user = User.objects.get(email="inv@acme.example")
    assert response.status_code == 302 and response["Location"].endswith(f"/users/{user.pk}/")
    deliver()
    assert [m.to for m in mailoutbox] == [["inv@acme.example"]]
    detail = admin_client.get(users_url(admin_client, f"{user.pk}/")).content.decode()
    assert "Re-send invitation" in detail or "招待を再送信" in detail


def test_forms_show_field_errors(admin_client, admin):
    taken = admin_client.post(users_url(admin_client, "invite/"), {"email": admin.email, "role": "viewer"})
    assert taken.status_code == 200 and "email" in taken.context["form"].errors
    weak = admin_client.post(users_url(admin_client, "new/"), {"email": "w@acme.example", "role": "viewer",
                                                               "password": "short"})
    assert weak.status_code == 200 and "password" in weak.context["form"].errors
    assert not User.objects.filter(email="w@acme.example").exists()


def test_create_with_initial_password(admin_client):
    response = admin_client.post(users_url(admin_client, "new/"), {
        "email": "init@acme.example", "role": "viewer", "password": STRONG, "language": ""})
    assert response.status_code == 302
    assert User.objects.get(email="init@acme.example").must_change_password


def test_detail_edit_suspend_reactivate_end_sessions_delete(admin_client, editor, api_token, org):
    raw = api_token(editor)
    session = signed_in(editor)
    detail = admin_client.get(users_url(admin_client, f"{editor.pk}/"))
    assert detail.status_code == 200 and ApiToken.objects.get(user=editor).prefix in detail.content.decode()
    edit = admin_client.post(users_url(admin_client, f"{editor.pk}/edit/"), {
        "name": "Eddie", "role": "reviewer", "unit_ids": [org["hr"].pk], "language": "en"})
    assert edit.status_code == 302
    editor.refresh_from_db()
    assert (editor.name, editor.role) == ("Eddie", "reviewer") and not is_signed_in(session)
    assert admin_client.get(users_url(admin_client, f"{editor.pk}/suspend/")).status_code == 405  # POST only
    admin_client.post(users_url(admin_client, f"{editor.pk}/suspend/"))
    editor.refresh_from_db()
    assert not editor.is_active and ApiToken.objects.get(user=editor).revoked_at is not None
    admin_client.post(users_url(admin_client, f"{editor.pk}/reactivate/"))
    admin_client.post(users_url(admin_client, f"{editor.pk}/end-sessions/"))
    assert AuditEvent.objects.filter(action="user.sessions_ended", target_id=str(editor.pk)).exists()
    confirm = admin_client.get(users_url(admin_client, f"{editor.pk}/delete/"))
    assert confirm.status_code == 200 and editor.email in confirm.content.decode()
    assert User.objects.filter(pk=editor.pk).exists()  # GET only asks
    assert admin_client.post(users_url(admin_client, f"{editor.pk}/delete/")).status_code == 302
    assert not User.objects.filter(pk=editor.pk).exists()
    del raw


def test_resend_and_cancel_invitation(admin_client, admin, mailoutbox, django_capture_on_commit_callbacks):
    from mamori.accounts import actions
    from mamori.audit.events import Actor

    user = actions.invite_user(actor=Actor.for_user(admin), email="inv@acme.example").user
    first = Invitation.objects.get(user=user)
    admin_client.post(users_url(admin_client, f"{user.pk}/invitation/resend/"))
    first.refresh_from_db()
    assert first.revoked_at is not None and Invitation.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    response = admin_client.post(users_url(admin_client, f"{user.pk}/invitation/cancel/"))
    assert response.status_code == 302 and not User.objects.filter(pk=user.pk).exists()


def test_last_admin_refusal_is_shown(admin_client, admin, tenant, user_factory):
    """The owner is the other admin here; demoting them works, then admin is the last one."""
    owner = User.objects.get(email="owner@acme.example")
    admin_client.post(users_url(admin_client, f"{owner.pk}/edit/"), {"name": "", "role": "viewer", "language": ""})
    owner.refresh_from_db()
    assert owner.role == "viewer"
    page = admin_client.get(users_url(admin_client, f"{admin.pk}/"))
    assert page.status_code == 200 and not page.context["can_manage"]  # no admin actions on oneself
    assert admin_client.post(users_url(admin_client, f"{admin.pk}/suspend/")).status_code == 403


def test_unit_admin_outside_scope_gets_404_and_an_event(unit_admin, hr_user, sales_user, admin, console_client):
    client = console_client(unit_admin)
    assert client.get(users_url(client, f"{sales_user.pk}/")).status_code == 200
    for target in (hr_user, admin):
        before = AuditEvent.objects.filter(action="access.denied").count()
        assert client.get(users_url(client, f"{target.pk}/")).status_code == 404
        assert client.get(users_url(client, f"{target.pk}/edit/")).status_code == 404
        for action in ("suspend", "delete", "end-sessions", "reactivate", "invitation/resend"):
            assert client.post(users_url(client, f"{target.pk}/{action}/")).status_code == 404
        assert AuditEvent.objects.filter(action="access.denied").count() == before + 7
    hr_user.refresh_from_db()
    assert hr_user.is_active


def test_unit_admin_forms_offer_only_their_roles_and_units(unit_admin, org, console_client):
    client = console_client(unit_admin)
    form = client.get(users_url(client, "invite/")).context["form"]
    assert {value for value, _label in form.fields["role"].choices} == {"editor", "reviewer", "viewer"}
    assert {value for value, _label in form.fields["unit_ids"].choices} == {org["sales"].pk, org["east"].pk}
    crafted = client.post(users_url(client, "invite/"), {"email": "x@acme.example", "role": "tenant_admin",
                                                         "unit_ids": [org["sales"].pk]})
    assert crafted.status_code == 200 and "role" in crafted.context["form"].errors
    assert not User.objects.filter(email="x@acme.example").exists()


@pytest.mark.parametrize("path", ["users/invite/", "users/new/"])
def test_user_forms_need_users_manage(editor_client, path):
    assert editor_client.get(f"{editor_client.tenant_prefix}/{path}").status_code == 403


def test_change_password_page_links_are_csp_clean(editor_client):
    html = editor_client.get(f"{editor_client.tenant_prefix}/account/password/").content.decode()
    assert " style=" not in html and not re.search(r"<script(?![^>]*\ssrc=)", html)
