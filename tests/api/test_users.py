"""User management through the API: invite or create, change, suspend, reactivate, end
sessions, delete, invitations — same actions and rules as the console."""

from __future__ import annotations

import pytest

from mamori.accounts.models import ApiToken, Invitation, User
from mamori.audit.models import AuditEvent
from tests.accounts import lifecycle_fixtures as fixtures
from tests.accounts.lifecycle_fixtures import STRONG, is_signed_in, signed_in
from tests.api.conftest import ApiClient

# Shared fixtures (pytest finds them by name in this module).
hr_user = fixtures.hr_user
org = fixtures.org
sales_user = fixtures.sales_user
unit_admin = fixtures.unit_admin


def fields(response) -> dict[str, list[str]]:
    assert response["Content-Type"].startswith("application/problem+json"), response.content
    result: dict[str, list[str]] = {}
    for error in response.json().get("errors", []):
        result.setdefault(error["field"], []).append(error["message"])
    return result


@pytest.fixture
def unit_admin_api(unit_admin, api_token):
    return ApiClient(api_token(unit_admin))


def test_invite_by_post_without_password(acme, org):
    response = acme.admin_api.post("/users", {"email": "api@acme.example", "name": "Api", "role": "editor",
                                              "unit_ids": [org["sales"].pk], "language": "en"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "invited" and body["unit_ids"] == [org["sales"].pk] and body["role"] == "editor"
    assert Invitation.objects.filter(user_id=body["id"]).count() == 1
    assert AuditEvent.objects.filter(action="user.invited", target_id=str(body["id"])).exists()


def test_create_with_initial_password(acme):
    response = acme.admin_api.post("/users", {"email": "pw@acme.example", "password": STRONG})
    assert response.status_code == 201 and response.json()["status"] == "active"
    assert User.objects.get(email="pw@acme.example").must_change_password


def test_bad_input_is_a_problem_with_field_errors(acme):
    assert "email" in fields(acme.admin_api.post("/users", {"email": acme.admin.email}))
    assert "password" in fields(acme.admin_api.post("/users", {"email": "w@acme.example", "password": "short"}))
    assert "unit_ids" in fields(acme.admin_api.post("/users", {"email": "u@acme.example", "unit_ids": [987654]}))
    assert "role" in fields(acme.admin_api.post("/users", {"email": "r@acme.example", "role": "root"}))
    assert acme.admin_api.post("/users", {"email": "x@acme.example", "extra": 1}).status_code in (201, 422)


def test_get_and_list_with_filters(acme, org, sales_user, hr_user):
    got = acme.admin_api.get(f"/users/{sales_user.pk}")
    assert got.status_code == 200 and got.json()["unit_ids"] == [org["east"].pk]
    listed = acme.admin_api.get("/users", params={"unit": org["sales"].pk}).json()["items"]
    assert [u["email"] for u in listed] == [sales_user.email]
    assert acme.viewer_api.get(f"/users/{sales_user.pk}").status_code == 403


def test_patch_changes_fields_and_role(acme, org):
    session = signed_in(acme.editor)
    response = acme.admin_api.patch(f"/users/{acme.editor.pk}", {"name": "Eddie", "role": "reviewer",
                                                                 "unit_ids": [org["hr"].pk]})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "reviewer" and response.json()["unit_ids"] == [org["hr"].pk]
    assert not is_signed_in(session)
    assert AuditEvent.objects.filter(action="user.role_changed", target_id=str(acme.editor.pk)).exists()


def test_suspend_stops_token_and_session_at_once_then_reactivate(acme):
    session = signed_in(acme.editor)
    assert acme.editor_api.get("/me").status_code == 200
    response = acme.admin_api.post(f"/users/{acme.editor.pk}/suspend")
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    assert acme.editor_api.get("/me").status_code == 401
    assert not is_signed_in(session)
    assert not ApiToken.objects.filter(user=acme.editor, revoked_at__isnull=True).exists()
    assert acme.admin_api.post(f"/users/{acme.editor.pk}/reactivate").json()["status"] == "active"
    assert acme.editor_api.get("/me").status_code == 401  # revoked tokens stay revoked


def test_end_sessions_and_delete(acme):
    session = signed_in(acme.editor)
    assert acme.admin_api.post(f"/users/{acme.editor.pk}/end-sessions").status_code == 204
    assert not is_signed_in(session)
    assert acme.editor_api.get("/me").status_code == 200  # tokens are not sessions
    assert acme.admin_api.delete(f"/users/{acme.editor.pk}").status_code == 204
    assert acme.editor_api.get("/me").status_code == 401
    assert acme.admin_api.get(f"/users/{acme.editor.pk}").status_code == 404


def test_invitation_resend_and_cancel(acme):
    user_id = acme.admin_api.post("/users", {"email": "inv@acme.example"}).json()["id"]
    resent = acme.admin_api.post(f"/users/{user_id}/invitation/resend")
    assert resent.status_code == 200 and resent.json()["user_id"] == user_id
    assert Invitation.objects.filter(user_id=user_id, revoked_at__isnull=True).count() == 1
    assert acme.admin_api.delete(f"/users/{user_id}/invitation").status_code == 204
    assert not User.objects.filter(pk=user_id).exists()
    registered = acme.admin_api.post(f"/users/{acme.editor.pk}/invitation/resend")
    assert registered.status_code == 422 and "invitation" in fields(registered)


def test_no_admin_action_on_oneself(acme):
    for method, path in (("post", "suspend"), ("delete", "")):
        response = getattr(acme.admin_api, method)(f"/users/{acme.admin.pk}/{path}".rstrip("/"))
        assert response.status_code == 403
    assert acme.admin_api.patch(f"/users/{acme.admin.pk}", {"role": "viewer"}).status_code == 403


def test_tenant_admin_may_demote_another_admin(acme):
    owner = User.objects.get(email="owner@acme.example")
    response = acme.admin_api.patch(f"/users/{owner.pk}", {"role": "viewer"})
    assert response.status_code == 200 and response.json()["role"] == "viewer"


def test_unit_admin_scope_through_the_api(unit_admin_api, sales_user, hr_user, acme, org):
    listed = {u["email"] for u in unit_admin_api.get("/users").json()["items"]}
    assert listed == {sales_user.email}
    assert unit_admin_api.patch(f"/users/{sales_user.pk}", {"name": "S"}).status_code == 200
    for target in (hr_user, acme.admin):
        before = AuditEvent.objects.filter(action="access.denied").count()
        calls = [unit_admin_api.get(f"/users/{target.pk}"),
                 unit_admin_api.patch(f"/users/{target.pk}", {"name": "x"}),
                 unit_admin_api.post(f"/users/{target.pk}/suspend"),
                 unit_admin_api.post(f"/users/{target.pk}/end-sessions"),
                 unit_admin_api.delete(f"/users/{target.pk}"),
                 unit_admin_api.delete(f"/users/{target.pk}/invitation")]
        assert [r.status_code for r in calls] == [404] * 6
        assert AuditEvent.objects.filter(action="access.denied").count() == before + 6
    granted = unit_admin_api.patch(f"/users/{sales_user.pk}", {"role": "tenant_admin"})
    assert granted.status_code == 403
    outside = unit_admin_api.post("/users", {"email": "o@acme.example", "unit_ids": [org["hr"].pk]})
    assert outside.status_code == 403
    inside = unit_admin_api.post("/users", {"email": "i@acme.example", "unit_ids": [org["east"].pk]})
    assert inside.status_code == 201
