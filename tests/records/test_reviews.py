"""Reviewers comment and approve or request changes, but cannot edit; workspace membership
still decides which records anyone reaches (console and API)."""

from __future__ import annotations

import pytest

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import RecordComment, ReviewStatus


@pytest.fixture
def setup(tenant, admin, user_factory):
    by = Actor.for_user(admin)
    ws = actions.create_workspace(actor=by, name="Reviewed")
    record = actions.create_record(actor=by, workspace_id=ws.pk, title="Plan")
    reviewer = user_factory(tenant, "reviewer@acme.example", Role.REVIEWER)
    actions.add_workspace_member(actor=by, workspace_id=ws.pk, user_id=reviewer.pk)
    other_ws = actions.create_workspace(actor=by, name="Elsewhere")
    elsewhere = actions.create_record(actor=by, workspace_id=other_ws.pk, title="Hidden")
    return {"record": record, "reviewer": reviewer, "elsewhere": elsewhere, "admin": admin, "ws": ws}


def test_reviewer_comments_and_approves_but_cannot_edit(setup):
    by = Actor.for_user(setup["reviewer"])
    record = setup["record"]
    comment = actions.comment_on_record(actor=by, record_id=record.pk, body="Looks fine")
    assert comment.author == setup["reviewer"]
    reviewed = actions.review_record(actor=by, record_id=record.pk, decision=ReviewStatus.APPROVED)
    assert reviewed.review_status == ReviewStatus.APPROVED and reviewed.reviewed_by == setup["reviewer"]
    event = AuditEvent.objects.filter(action="record.reviewed").latest("id")
    assert event.before == {"review_status": "none"} and event.after["review_status"] == "approved"
    with pytest.raises(PermissionDenied):
        actions.update_record(actor=by, record_id=record.pk, title="Changed")


def test_request_changes_needs_a_comment_and_keeps_it(setup):
    from django.core.exceptions import ValidationError

    by = Actor.for_user(setup["reviewer"])
    with pytest.raises(ValidationError) as exc:
        actions.review_record(actor=by, record_id=setup["record"].pk, decision=ReviewStatus.CHANGES_REQUESTED)
    assert "comment" in exc.value.message_dict
    with pytest.raises(ValidationError):
        actions.review_record(actor=by, record_id=setup["record"].pk, decision="none")
    actions.review_record(actor=by, record_id=setup["record"].pk, decision=ReviewStatus.CHANGES_REQUESTED,
                          comment="Add the budget")
    note = RecordComment.objects.get(record=setup["record"])
    assert (note.body, note.review_decision) == ("Add the budget", ReviewStatus.CHANGES_REQUESTED)


def test_an_edit_resets_the_review(setup):
    actions.review_record(actor=Actor.for_user(setup["reviewer"]), record_id=setup["record"].pk,
                          decision=ReviewStatus.APPROVED)
    record = actions.update_record(actor=Actor.for_user(setup["admin"]), record_id=setup["record"].pk,
                                   title="Plan v2")
    assert record.review_status == ReviewStatus.NONE and record.reviewed_by is None
    event = AuditEvent.objects.filter(action="record.updated").latest("id")
    assert event.before["review_status"] == "approved" and event.after["review_status"] == "none"


def test_records_outside_ones_workspaces_are_not_found(setup):
    by = Actor.for_user(setup["reviewer"])
    with pytest.raises(NotFound):
        actions.comment_on_record(actor=by, record_id=setup["elsewhere"].pk, body="x")
    with pytest.raises(NotFound):
        actions.review_record(actor=by, record_id=setup["elsewhere"].pk, decision=ReviewStatus.APPROVED)


def test_viewer_and_editor_limits(setup, viewer, editor):
    by_admin = Actor.for_user(setup["admin"])
    for user in (viewer, editor):
        actions.add_workspace_member(actor=by_admin, workspace_id=setup["ws"].pk, user_id=user.pk)
    with pytest.raises(PermissionDenied):
        actions.comment_on_record(actor=Actor.for_user(viewer), record_id=setup["record"].pk, body="x")
    actions.comment_on_record(actor=Actor.for_user(editor), record_id=setup["record"].pk, body="ok")
    with pytest.raises(PermissionDenied):
        actions.review_record(actor=Actor.for_user(editor), record_id=setup["record"].pk, decision="approved")


def test_console_buttons(setup, console_client):
    client = console_client(setup["reviewer"])
    url = f"/t/acme/records/{setup['record'].pk}/"
    html = client.get(url).content.decode()
    assert 'value="approved"' in html and 'value="changes_requested"' in html
    assert client.post(f"{url}comments/", {"body": "Nice"}).status_code == 302
    assert client.post(f"{url}review/", {"decision": "changes_requested", "comment": ""}).status_code == 422
    assert client.post(f"{url}review/", {"decision": "approved"}).status_code == 302
    assert "Nice" in client.get(url).content.decode()
    assert client.post(f"/t/acme/records/{setup['elsewhere'].pk}/comments/", {"body": "x"}).status_code == 404


def test_api_comments_and_review(setup, api_token):
    from tests.api.conftest import ApiClient

    api = ApiClient(api_token(setup["reviewer"]))
    rid = setup["record"].pk
    response = api.post(f"/records/{rid}/comments", {"body": "From the API"})
    assert response.status_code == 201 and response.json()["body"] == "From the API"
    assert [c["body"] for c in api.get(f"/records/{rid}/comments").json()["items"]] == ["From the API"]
    response = api.post(f"/records/{rid}/review", {"decision": "approved"})
    assert response.status_code == 200 and response.json()["review_status"] == "approved"
    assert api.patch(f"/records/{rid}", {"title": "x"}).status_code == 403
    assert api.post(f"/records/{setup['elsewhere'].pk}/comments", {"body": "x"}).status_code == 404
