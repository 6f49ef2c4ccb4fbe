"""Workspaces and members."""

from __future__ import annotations

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import Workspace, WorkspaceMember


def _last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def test_list_workspaces_shows_only_member_workspaces(acme):
    actions.create_workspace(actor=Actor.for_user(acme.admin), name="admins only")
    viewer_names = [w["name"] for w in acme.viewer_api.get("/workspaces").json()["items"]]
    assert viewer_names == ["acme workspace"]
    admin_names = [w["name"] for w in acme.admin_api.get("/workspaces").json()["items"]]
    assert admin_names == ["acme workspace", "admins only"]


def test_create_get_patch_delete_workspace(acme):
    api = acme.editor_api
    created = api.post("/workspaces", {"name": "New", "description": "d"})
    assert created.status_code == 201, created.content
    ws_id = created.json()["id"]
    assert _last("workspace.created").actor_type == "api_token"
    assert api.get(f"/workspaces/{ws_id}").json()["name"] == "New"

    patched = api.patch(f"/workspaces/{ws_id}", {"description": "changed"})
    assert patched.status_code == 200
    assert patched.json() == {**patched.json(), "name": "New", "description": "changed"}
    assert _last("workspace.updated").actor_type == "api_token"

    # Deleting needs workspaces.manage (admin), not editor.
    assert api.delete(f"/workspaces/{ws_id}").status_code == 403
    assert acme.admin_api.delete(f"/workspaces/{ws_id}").status_code == 204
    assert not Workspace.objects.filter(pk=ws_id).exists()
    assert _last("workspace.deleted").actor_type == "api_token"


def test_duplicate_name_is_a_field_error(acme):
    response = acme.editor_api.post("/workspaces", {"name": "acme workspace"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_workspace_with_records_cannot_be_deleted(acme):
    response = acme.admin_api.delete(f"/workspaces/{acme.workspace.pk}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspace"


def test_members(acme, user_factory):
    from mamori.access.roles import Role

    newcomer = user_factory(acme.tenant, "new@acme.example", Role.EDITOR)
    path = f"/workspaces/{acme.workspace.pk}/members"
    listed = acme.viewer_api.get(path)
    assert listed.status_code == 200
    emails = [m["user"]["email"] for m in listed.json()["items"]]
    assert emails == sorted(["admin@acme.example", "editor@acme.example", "viewer@acme.example"])

    added = acme.admin_api.post(path, {"user_id": newcomer.pk})
    assert added.status_code == 201, added.content
    assert added.json()["user"]["email"] == "new@acme.example"
    assert _last("workspace.member_added").actor_type == "api_token"

    assert acme.admin_api.delete(f"{path}/{newcomer.pk}").status_code == 204
    assert not WorkspaceMember.objects.filter(user=newcomer).exists()
    assert _last("workspace.member_removed").actor_type == "api_token"
    assert acme.admin_api.delete(f"{path}/{newcomer.pk}").status_code == 404


def test_adding_an_unknown_or_foreign_user_is_a_field_error(acme, outsider):
    path = f"/workspaces/{acme.workspace.pk}/members"
    for user_id in (999999, outsider.pk):
        response = acme.admin_api.post(path, {"user_id": user_id})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "user_id"


def test_viewer_gets_403_on_workspace_writes(acme):
    api = acme.viewer_api
    ws = acme.workspace.pk
    assert api.post("/workspaces", {"name": "x"}).status_code == 403
    assert api.patch(f"/workspaces/{ws}", {"name": "x"}).status_code == 403
    assert api.delete(f"/workspaces/{ws}").status_code == 403
    assert api.post(f"/workspaces/{ws}/members", {"user_id": acme.editor.pk}).status_code == 403
    assert api.delete(f"/workspaces/{ws}/members/{acme.editor.pk}").status_code == 403
