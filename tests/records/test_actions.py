"""One test per records action: the change happens and its audit event is written."""

import pytest
from django.core.exceptions import ValidationError

from mamori.access.errors import NotFound, PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import Record, RecordLabel, Workspace, WorkspaceMember
from mamori.tenancy.context import use_tenant


def last_event(action):
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


@pytest.fixture
def ws(admin):
    return actions.create_workspace(actor=Actor.for_user(admin), name="Plant 1", description="Kawasaki")


def test_create_workspace(admin, ws):
    event = last_event("workspace.created")
    assert event.actor_id == str(admin.pk) and event.target_id == str(ws.pk)
    assert event.after == {"name": "Plant 1", "description": "Kawasaki"}
    assert WorkspaceMember.objects.filter(workspace=ws, user=admin).exists()


def test_update_workspace(admin, ws):
    actions.update_workspace(actor=Actor.for_user(admin), workspace_id=ws.pk, name="Plant 2", description="Kawasaki")
    event = last_event("workspace.updated")
    assert event.before == {"name": "Plant 1"} and event.after == {"name": "Plant 2"}


def test_delete_workspace(admin, ws):
    actions.delete_workspace(actor=Actor.for_user(admin), workspace_id=ws.pk)
    assert not Workspace.objects.filter(pk=ws.pk).exists()
    assert last_event("workspace.deleted").before["name"] == "Plant 1"


def test_add_and_remove_workspace_member(admin, editor, ws):
    actions.add_workspace_member(actor=Actor.for_user(admin), workspace_id=ws.pk, user_id=editor.pk)
    assert last_event("workspace.member_added").after == {"user": editor.email}
    actions.remove_workspace_member(actor=Actor.for_user(admin), workspace_id=ws.pk, user_id=editor.pk)
    assert last_event("workspace.member_removed").before == {"user": editor.email}


def test_label_lifecycle(admin):
    label = actions.create_label(actor=Actor.for_user(admin), name="urgent", colour="#CF222E")
    assert last_event("label.created").after == {"name": "urgent", "colour": "#cf222e"}
    actions.update_label(actor=Actor.for_user(admin), label_id=label.pk, name="very urgent", colour="#cf222e")
    assert last_event("label.updated").after == {"name": "very urgent"}
    actions.delete_label(actor=Actor.for_user(admin), label_id=label.pk)
    assert last_event("label.deleted").before["name"] == "very urgent"


def test_record_lifecycle(admin, ws):
    label = actions.create_label(actor=Actor.for_user(admin), name="urgent")
    record = actions.create_record(
        actor=Actor.for_user(admin), workspace_id=ws.pk, title="Pump", body="check seals",
        properties={"site": "A", "count": 3}, classification="confidential", label_ids=[label.pk],
    )
    created = last_event("record.created")
    assert created.after["labels"] == ["urgent"] and created.after["properties"] == {"site": "A", "count": "3"}
    actions.update_record(actor=Actor.for_user(admin), record_id=record.pk, title="Pump 2", label_ids=[])
    updated = last_event("record.updated")
    assert updated.before == {"title": "Pump", "labels": ["urgent"]}
    assert updated.after == {"title": "Pump 2", "labels": []}
    assert not RecordLabel.objects.filter(record=record).exists()
    actions.delete_record(actor=Actor.for_user(admin), record_id=record.pk)
    assert not Record.objects.filter(pk=record.pk).exists()
    assert last_event("record.deleted").before["title"] == "Pump 2"


def test_viewer_cannot_write_and_denial_is_audited(viewer, admin, ws):
    actions.add_workspace_member(actor=Actor.for_user(admin), workspace_id=ws.pk, user_id=viewer.pk)
    with pytest.raises(PermissionDenied):
        actions.create_record(actor=Actor.for_user(viewer), workspace_id=ws.pk, title="x")
    assert last_event("access.denied").actor_id == str(viewer.pk)


def test_non_member_cannot_see_workspace(editor, ws):
    with pytest.raises(NotFound):
        actions.create_record(actor=Actor.for_user(editor), workspace_id=ws.pk, title="x")


def test_other_tenant_ids_are_not_found(admin, ws, other_tenant, outsider):
    with use_tenant(other_tenant):
        with pytest.raises(NotFound):
            actions.create_record(actor=Actor.for_user(outsider), workspace_id=ws.pk, title="x")
        with pytest.raises(NotFound):
            actions.update_workspace(actor=Actor.for_user(outsider), workspace_id=ws.pk, name="stolen")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "ok", "classification": "top-secret"}, "classification"),
        ({"title": "ok", "properties": ["not", "a", "dict"]}, "properties"),
        ({"title": "ok", "properties": {"": "empty key"}}, "properties"),
        ({"title": "ok", "label_ids": [999999]}, "labels"),
    ],
)
def test_bad_record_input_is_a_field_error_and_writes_nothing(admin, ws, kwargs, field):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        actions.create_record(actor=Actor.for_user(admin), workspace_id=ws.pk, **kwargs)
    assert field in exc.value.message_dict
    assert Record.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_secrets_in_properties_are_redacted_in_audit(admin, ws):
    actions.create_record(actor=Actor.for_user(admin), workspace_id=ws.pk, title="creds",
                          properties={"api_key": "sk-live-123", "password": "hunter2", "site": "A"})
    after = last_event("record.created").after
    assert after["properties"] == {"api_key": "[redacted]", "password": "[redacted]", "site": "A"}
