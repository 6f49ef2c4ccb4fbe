"""User lifecycle actions: create, update, role change, suspend, reactivate, delete, end
sessions, password change — their rules (last admin, unit admin scope, no self-service
through admin paths) and their effect on sessions and API tokens."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.models import UnitMembership
from mamori.access.roles import Role
from mamori.accounts import actions
from mamori.accounts.models import ApiToken, User
from mamori.audit.events import Actor
from tests.accounts import lifecycle_fixtures as fixtures
from tests.accounts.lifecycle_fixtures import STRONG, deliver, events, is_signed_in, signed_in
from tests.api.conftest import ApiClient  # restores the test's RLS tenant after each request
from tests.conftest import PASSWORD

# Shared fixtures (pytest finds them by name in this module).
hr_user = fixtures.hr_user
org = fixtures.org
sales_user = fixtures.sales_user
unit_admin = fixtures.unit_admin


def by(user) -> Actor:
    return Actor.for_user(user)


def units_of(user) -> set[int]:
    return set(UnitMembership.objects.filter(user=user).values_list("unit_id", flat=True))


# --- create and update -----------------------------------------------------------------------

def test_create_user_with_units_language_and_initial_password(admin, org):
    user = actions.create_user(actor=by(admin), email="new@acme.example", name="New", role=Role.EDITOR,
                               password=STRONG, unit_ids=[org["sales"].pk], language="en")
    assert user.must_change_password and user.language == "en"
    assert units_of(user) == {org["sales"].pk}
    assert events("user.created")[-1].after["units"] == [org["sales"].pk]


def test_create_user_refuses_weak_password_and_unknown_units(admin):
    with pytest.raises(ValidationError) as exc:
        actions.create_user(actor=by(admin), email="w@acme.example", password="short")
    assert "password" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        actions.create_user(actor=by(admin), email="u@acme.example", unit_ids=[999999])
    assert "unit_ids" in exc.value.message_dict
    assert not User.objects.filter(email__in=["w@acme.example", "u@acme.example"]).exists()


def test_initial_password_must_be_changed_before_anything_else(admin, client):
    actions.create_user(actor=by(admin), email="first@acme.example", password=STRONG)
    assert client.post("/t/acme/accounts/login/", {"login": "first@acme.example", "password": STRONG}).status_code == 302
    assert client.get("/t/acme/records/")["Location"] == "/t/acme/account/set-password/"


def test_update_user_changes_fields_and_records_a_diff(admin, editor, org):
    actions.update_user(actor=by(admin), user=editor, name="Eddie", language="en", unit_ids=[org["hr"].pk])
    editor.refresh_from_db()
    assert (editor.name, editor.language, units_of(editor)) == ("Eddie", "en", {org["hr"].pk})
    event = events("user.updated")[-1]
    assert event.after == {"name": "Eddie", "language": "en", "units": [org["hr"].pk]}
    assert event.before["units"] == []


def test_role_change_ends_sessions_at_once(admin, editor):
    session = signed_in(editor)
    assert is_signed_in(session)
    actions.update_user(actor=by(admin), user=editor, role=Role.VIEWER)
    assert not is_signed_in(session)
    event = events("user.role_changed")[-1]
    assert event.before == {"role": "editor"} and event.after["role"] == "viewer"


def test_nobody_acts_on_themselves_through_admin_paths(admin, user_factory, tenant):
    user_factory(tenant, "admin2@acme.example", Role.TENANT_ADMIN)
    for run in (actions.suspend_user, actions.delete_user):
        with pytest.raises(PermissionDenied):
            run(actor=by(admin), user=admin)
    with pytest.raises(PermissionDenied):
        actions.update_user(actor=by(admin), user=admin, role=Role.VIEWER)
    assert events("access.denied")  # each refusal is recorded
    admin.refresh_from_db()
    assert admin.is_active and admin.role == Role.TENANT_ADMIN


def test_non_admins_cannot_manage_users(editor, viewer):
    for actor_user in (editor, viewer):
        with pytest.raises(PermissionDenied):
            actions.suspend_user(actor=by(actor_user), user=viewer if actor_user is editor else editor)
    assert len(events("access.denied")) == 2


# --- suspend, reactivate, delete, sessions and tokens ---------------------------------------

def test_suspended_users_session_and_token_stop_working_at_once(admin, editor, api_token, api_client,
                                                                 mailoutbox, django_capture_on_commit_callbacks):
    session = signed_in(editor)
    raw = api_token(editor)
    assert ApiClient(raw).get("/api/v1/me").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        actions.suspend_user(actor=by(admin), user=editor)
    assert not is_signed_in(session)
    assert ApiClient(raw).get("/api/v1/me").status_code == 401
    assert not ApiToken.objects.filter(user=editor, revoked_at__isnull=True).exists()
    event = events("user.suspended")[-1]
    assert event.after["sessions_ended"] and event.after["api_access_revoked"] == 1
    # The suspended user cannot sign in again.
    from django.test import Client

    assert Client().post("/t/acme/accounts/login/", {"login": editor.email, "password": PASSWORD}).status_code != 302
    deliver()
    assert [m.to for m in mailoutbox] == [[editor.email]]
    assert "suspended" in mailoutbox[0].subject or "停止" in mailoutbox[0].subject


def test_reactivate_lets_the_user_sign_in_again(admin, editor):
    actions.suspend_user(actor=by(admin), user=editor)
    actions.reactivate_user(actor=by(admin), user=editor)
    assert is_signed_in(signed_in(editor))
    assert events("user.reactivated")[-1].after == {"is_active": True}


def test_delete_ends_sessions_and_tokens(admin, editor, api_token, api_client):
    session = signed_in(editor)
    raw = api_token(editor)
    actions.delete_user(actor=by(admin), user=editor)
    assert not User.objects.filter(pk=editor.pk).exists()
    assert not is_signed_in(session)
    assert ApiClient(raw).get("/api/v1/me").status_code == 401
    event = events("user.deleted")[-1]
    assert event.target_id == str(editor.pk) and event.before["email"] == editor.email


def test_end_sessions_signs_out_everywhere_but_keeps_tokens(admin, editor, api_token, api_client):
    first, second = signed_in(editor), signed_in(editor)
    raw = api_token(editor)
    actions.end_sessions(actor=by(admin), user=editor)
    assert not is_signed_in(first) and not is_signed_in(second)
    assert ApiClient(raw).get("/api/v1/me").status_code == 200
    assert events("user.sessions_ended")[-1].target_id == str(editor.pk)


def test_a_user_may_end_their_own_other_sessions(editor):
    current, other = signed_in(editor), signed_in(editor)
    response = current.post("/t/acme/account/sign-out-everywhere/")
    assert response.status_code == 302
    assert is_signed_in(current) and not is_signed_in(other)


# --- tenant admins and the last admin --------------------------------------------------------

def test_only_tenant_admins_act_on_admins(admin, unit_admin, user_factory, tenant, org):
    other_admin = user_factory(tenant, "admin2@acme.example", Role.TENANT_ADMIN)
    UnitMembership.objects.create(tenant=tenant, user=other_admin, unit=org["east"])
    with pytest.raises(NotFound):
        actions.suspend_user(actor=by(unit_admin), user=other_admin)
    with pytest.raises(NotFound):
        actions.update_user(actor=by(unit_admin), user=other_admin, role=Role.VIEWER)
    actions.update_user(actor=by(admin), user=other_admin, role=Role.EDITOR)  # a tenant admin may demote
    other_admin.refresh_from_db()
    assert other_admin.role == Role.EDITOR


def test_last_tenant_admin_cannot_be_removed(admin, user_factory, tenant):
    """Two admins; B suspends A. A request of A's that was already running (its actor is
    stale) must not then remove B, the last active admin."""
    User.objects.filter(email="owner@acme.example").update(role=Role.VIEWER)  # the bootstrap admin
    b = user_factory(tenant, "admin2@acme.example", Role.TENANT_ADMIN)
    stale_a = User.objects.get(pk=admin.pk)
    actions.suspend_user(actor=by(b), user=admin)
    for run, kwargs, field in ((actions.suspend_user, {}, "is_active"), (actions.delete_user, {}, "user"),
                               (actions.update_user, {"role": Role.EDITOR}, "role")):
        with pytest.raises(ValidationError) as exc:
            run(actor=by(stale_a), user=b, **kwargs)
        assert field in exc.value.message_dict
        assert [e.code for e in exc.value.error_dict[field]] == ["last_admin"]
        assert events("access.denied")[-1].after["reason"] == "last_admin"
    b.refresh_from_db()
    assert b.is_active and b.role == Role.TENANT_ADMIN


def test_tenant_admins_can_remove_each_other_while_one_remains(admin, user_factory, tenant):
    b = user_factory(tenant, "admin2@acme.example", Role.TENANT_ADMIN)
    actions.update_user(actor=by(admin), user=b, role=Role.VIEWER)
    actions.delete_user(actor=by(admin), user=b)
    assert list(User.objects.filter(role=Role.TENANT_ADMIN, is_active=True)
                .exclude(email="owner@acme.example").values_list("pk", flat=True)) == [admin.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_suspending_each_other_at_once_leave_one(make_tenant, user_factory):
    """Race on PostgreSQL: both requests lock the admin rows; exactly one succeeds."""
    from mamori.tenancy.context import use_tenant

    tenant = make_tenant("race")
    with use_tenant(tenant):
        from mamori.accounts.models import User as U

        U.objects.filter(role=Role.TENANT_ADMIN).update(role=Role.VIEWER)  # the bootstrap owner
        a = user_factory(tenant, "a@race.example", Role.TENANT_ADMIN)
        b = user_factory(tenant, "b@race.example", Role.TENANT_ADMIN)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def run(name, actor_user, target):
        try:
            with use_tenant(tenant):
                barrier.wait()
                actions.suspend_user(actor=by(actor_user), user=target)
            results[name] = "ok"
        except ValidationError:
            results[name] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=("a", a, b)), threading.Thread(target=run, args=("b", b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["ok", "refused"]
    with use_tenant(tenant):
        assert U.objects.filter(role=Role.TENANT_ADMIN, is_active=True).count() == 1


# --- unit admins --------------------------------------------------------------------------

def test_unit_admin_manages_users_below_their_unit(unit_admin, sales_user, org):
    actions.update_user(actor=by(unit_admin), user=sales_user, name="Seller", role=Role.REVIEWER,
                        unit_ids=[org["sales"].pk])
    sales_user.refresh_from_db()
    assert sales_user.role == Role.REVIEWER and units_of(sales_user) == {org["sales"].pk}
    actions.suspend_user(actor=by(unit_admin), user=sales_user)
    actions.reactivate_user(actor=by(unit_admin), user=sales_user)


def test_unit_admin_outside_scope_gets_not_found_and_leaves_an_event(unit_admin, hr_user, admin, outsider):
    for run, kwargs in ((actions.suspend_user, {}), (actions.delete_user, {}), (actions.end_sessions, {}),
                        (actions.update_user, {"name": "x"}), (actions.reactivate_user, {})):
        before = len(events("access.denied"))
        with pytest.raises(NotFound):
            run(actor=by(unit_admin), user=hr_user, **kwargs)
        denied = events("access.denied")
        assert len(denied) == before + 1
        assert denied[-1].target_id == str(hr_user.pk) and denied[-1].after["reason"] == "out_of_scope"
    for target in (admin, unit_admin):  # admins (and themselves) are out of reach too
        with pytest.raises(NotFound):
            actions.suspend_user(actor=by(unit_admin), user=target)
    hr_user.refresh_from_db()
    assert hr_user.is_active and hr_user.name == "hr"


def test_unit_admin_cannot_grant_admin_roles_or_foreign_units(unit_admin, sales_user, org):
    for role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN):
        with pytest.raises(PermissionDenied):
            actions.update_user(actor=by(unit_admin), user=sales_user, role=role)
        with pytest.raises(PermissionDenied):
            actions.invite_user(actor=by(unit_admin), email=f"{role}@acme.example", role=role,
                                unit_ids=[org["sales"].pk])
    with pytest.raises(PermissionDenied):
        actions.update_user(actor=by(unit_admin), user=sales_user, unit_ids=[org["hr"].pk])
    with pytest.raises(PermissionDenied):
        actions.invite_user(actor=by(unit_admin), email="x@acme.example", unit_ids=[org["hr"].pk])
    with pytest.raises(ValidationError) as exc:
        actions.invite_user(actor=by(unit_admin), email="y@acme.example", unit_ids=[])
    assert "unit_ids" in exc.value.message_dict
    assert len(events("access.denied")) == 6
    sales_user.refresh_from_db()
    assert sales_user.role == Role.EDITOR


def test_unit_admin_keeps_memberships_outside_their_scope(admin, unit_admin, sales_user, org):
    actions.update_user(actor=by(admin), user=sales_user, unit_ids=[org["east"].pk, org["hr"].pk])
    actions.update_user(actor=by(unit_admin), user=sales_user, unit_ids=[org["sales"].pk])
    assert units_of(sales_user) == {org["sales"].pk, org["hr"].pk}


# --- password change and reset -------------------------------------------------------------

def test_password_change_needs_current_password_and_ends_other_sessions(
        editor, mailoutbox, django_capture_on_commit_callbacks):
    current, other = signed_in(editor), signed_in(editor)
    page = current.get("/t/acme/account/password/")
    assert page.status_code == 200
    wrong = current.post("/t/acme/account/password/", {"current_password": "nope", "password1": STRONG,
                                                       "password2": STRONG})
    assert wrong.status_code == 200 and "current_password" in wrong.context["form"].errors
    weak = current.post("/t/acme/account/password/", {"current_password": PASSWORD, "password1": "short",
                                                      "password2": "short"})
    assert "password1" in weak.context["form"].errors
    with django_capture_on_commit_callbacks(execute=True):
        ok = current.post("/t/acme/account/password/", {"current_password": PASSWORD, "password1": STRONG,
                                                        "password2": STRONG})
    assert ok.status_code == 302
    assert is_signed_in(current) and not is_signed_in(other)
    editor.refresh_from_db()
    assert editor.check_password(STRONG)
    assert events("user.password_changed")[-1].after["password"] != "changed"  # redacted in the log
    deliver()
    assert [m.to for m in mailoutbox] == [[editor.email]]


def test_password_reset_ends_every_session(editor, mailoutbox, django_capture_on_commit_callbacks):
    import re

    from django.test import Client

    session = signed_in(editor)
    client = Client()
    client.post("/t/acme/accounts/password/reset/", {"email": editor.email})
    path = re.search(r"(/t/acme/accounts/password/reset/key/\S+/)", mailoutbox[0].body).group(1)
    form_page = client.get(path, follow=True)
    action_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(action_url, {"password1": STRONG, "password2": STRONG}).status_code == 302
    assert not is_signed_in(session)
    deliver()  # the owner is told that the password changed
    assert [m.to for m in mailoutbox] == [[editor.email], [editor.email]]
    assert "パスワードが変更されました" in mailoutbox[1].subject
    # The used link is a clear page and changes nothing.
    again = Client()
    page = again.get(path, follow=True)
    assert page.status_code == 200 and page.context["token_fail"]
    again.post(page.redirect_chain[-1][0] if page.redirect_chain else path,
               {"password1": "yet another passphrase 9", "password2": "yet another passphrase 9"})
    editor.refresh_from_db()
    assert editor.check_password(STRONG)


def test_reset_does_not_reveal_whether_an_address_exists(tenant, editor, mailoutbox):
    import re

    from django.test import Client

    known = Client().post("/t/acme/accounts/password/reset/", {"email": editor.email}, follow=True)
    unknown = Client().post("/t/acme/accounts/password/reset/", {"email": "ghost@acme.example"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain
    def strip(html: str) -> str:
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
        return html.replace(editor.email, "").replace("ghost@acme.example", "")

    assert strip(known.content.decode()) == strip(unknown.content.decode())
    assert [m.to for m in mailoutbox] == [[editor.email]]


def test_losing_the_unit_admin_role_ends_the_unit_assignments(admin, unit_admin, org):
    from mamori.access.models import UnitAdminScope

    actions.update_user(actor=Actor.for_user(admin), user=unit_admin, role=Role.EDITOR)
    assert not UnitAdminScope.objects.filter(user=unit_admin).exists()
    [event] = events("user.role_changed", target_id=str(unit_admin.pk))
    assert event.before == {"role": Role.UNIT_ADMIN, "admin_of_units": [org["sales"].pk]}
    # Made unit admin again: no old scope comes back by itself.
    actions.update_user(actor=Actor.for_user(admin), user=unit_admin, role=Role.UNIT_ADMIN)
    assert not UnitAdminScope.objects.filter(user=unit_admin).exists()
