"""Workspaces pages: list, create, detail with members, edit, delete."""

from __future__ import annotations

from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import Workspace, WorkspaceMember
from tests.console.conftest import XSS, as_actor, assert_escaped


def test_list_shows_my_workspaces(admin_client, workspace):
    response = admin_client.get(f"{admin_client.tenant_prefix}/workspaces/")
    assert response.status_code == 200
    assert "Sales" in response.content.decode()


def test_viewer_sees_only_workspaces_they_belong_to(viewer_client, workspace, admin):
    actions.create_workspace(actor=as_actor(admin), name="Board only")
    html = viewer_client.get(f"{viewer_client.tenant_prefix}/workspaces/").content.decode()
    assert "Sales" in html
    assert "Board only" not in html


def test_anonymous_is_sent_to_sign_in(client, workspace):
    response = client.get(f"/t/acme/workspaces/{workspace.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/t/acme/accounts/login/?next=/t/acme/workspaces/")


def test_admin_creates_a_workspace(admin_client):
    response = admin_client.post(f"{admin_client.tenant_prefix}/workspaces/new/",
                                 {"name": "Research", "description": "R&D"})
    workspace = Workspace.objects.get(name="Research")
    assert response.status_code == 302
    assert response["Location"] == f"/t/acme/workspaces/{workspace.pk}/"
    assert AuditEvent.objects.filter(action="workspace.created", target_id=str(workspace.pk)).exists()


def test_duplicate_name_is_a_field_error_and_keeps_the_input(admin_client, workspace):
    response = admin_client.post(f"{admin_client.tenant_prefix}/workspaces/new/",
                                 {"name": "Sales", "description": "typed text stays"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="field has-error"' in html
    assert "typed text stays" in html
    assert Workspace.objects.filter(name="Sales").count() == 1


def test_viewer_cannot_create_edit_or_delete(viewer_client, workspace):
    prefix = viewer_client.tenant_prefix
    for path in ["/workspaces/new/", f"/workspaces/{workspace.pk}/edit/", f"/workspaces/{workspace.pk}/delete/"]:
        assert viewer_client.get(prefix + path).status_code == 403, path
        assert viewer_client.post(prefix + path, {"name": "Hacked"}).status_code == 403, path
    assert Workspace.objects.get(pk=workspace.pk).name == "Sales"
    assert AuditEvent.objects.filter(action="access.denied", actor_id=str(viewer_client.session["_auth_user_id"])).exists()


def test_detail_lists_records_and_members(admin_client, record, editor):
    html = admin_client.get(f"{admin_client.tenant_prefix}/workspaces/{record.workspace_id}/").content.decode()
    assert "Quarterly plan" in html
    assert editor.email in html


def test_non_member_gets_404(editor_client, admin):
    other = actions.create_workspace(actor=as_actor(admin), name="Board only")
    assert editor_client.get(f"{editor_client.tenant_prefix}/workspaces/{other.pk}/").status_code == 404


def test_other_tenant_ids_are_404_under_own_prefix(outsider_client, workspace):
    prefix = outsider_client.tenant_prefix  # /t/globex
    assert prefix == "/t/globex"
    for path in ["/", "/edit/", "/delete/"]:
        assert outsider_client.get(f"{prefix}/workspaces/{workspace.pk}{path}").status_code == 404
    assert outsider_client.post(f"{prefix}/workspaces/{workspace.pk}/delete/").status_code == 404
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_edit_writes_an_event(admin_client, workspace):
    response = admin_client.post(f"{admin_client.tenant_prefix}/workspaces/{workspace.pk}/edit/",
                                 {"name": "Sales JP", "description": "new"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="workspace.updated", target_id=str(workspace.pk))
    assert event.after == {"name": "Sales JP", "description": "new"}


def test_delete_confirms_then_deletes_on_post(admin_client, admin):
    empty = actions.create_workspace(actor=as_actor(admin), name="Empty")
    url = f"{admin_client.tenant_prefix}/workspaces/{empty.pk}/delete/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Empty" in page.content
    assert Workspace.objects.filter(pk=empty.pk).exists()  # GET changes nothing
    response = admin_client.post(url)
    assert response.status_code == 302
    assert not Workspace.objects.filter(pk=empty.pk).exists()
    assert AuditEvent.objects.filter(action="workspace.deleted", target_id=str(empty.pk)).exists()


def test_delete_with_records_shows_why(admin_client, record):
    response = admin_client.post(f"{admin_client.tenant_prefix}/workspaces/{record.workspace_id}/delete/")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert Workspace.objects.filter(pk=record.workspace_id).exists()


def test_editor_may_edit_but_not_delete(editor_client, workspace):
    prefix = editor_client.tenant_prefix
    assert editor_client.get(f"{prefix}/workspaces/{workspace.pk}/edit/").status_code == 200
    assert editor_client.get(f"{prefix}/workspaces/{workspace.pk}/delete/").status_code == 403


def test_admin_adds_and_removes_members(admin_client, workspace, user_factory, tenant):
    from mamori.access.roles import Role

    newcomer = user_factory(tenant, "new@acme.example", Role.EDITOR)
    base = f"{admin_client.tenant_prefix}/workspaces/{workspace.pk}/members"
    assert admin_client.post(f"{base}/add/", {"user": newcomer.pk}).status_code == 302
    assert WorkspaceMember.objects.filter(workspace=workspace, user=newcomer).exists()
    assert AuditEvent.objects.filter(action="workspace.member_added", after__user=newcomer.email).exists()
    assert admin_client.post(f"{base}/{newcomer.pk}/remove/").status_code == 302
    assert not WorkspaceMember.objects.filter(workspace=workspace, user=newcomer).exists()
    assert AuditEvent.objects.filter(action="workspace.member_removed").exists()


def test_member_changes_are_post_only_and_admin_only(editor_client, admin_client, workspace, viewer):
    base = f"/workspaces/{workspace.pk}/members"
    assert admin_client.get(f"{admin_client.tenant_prefix}{base}/add/").status_code == 405
    assert editor_client.post(f"{editor_client.tenant_prefix}{base}/{viewer.pk}/remove/").status_code == 403
    assert WorkspaceMember.objects.filter(workspace=workspace, user=viewer).exists()


def test_names_are_escaped(admin_client, admin):
    workspace = actions.create_workspace(actor=as_actor(admin), name=XSS[:200], description=XSS)
    prefix = admin_client.tenant_prefix
    assert_escaped(admin_client.get(f"{prefix}/workspaces/").content.decode())
    assert_escaped(admin_client.get(f"{prefix}/workspaces/{workspace.pk}/").content.decode())
