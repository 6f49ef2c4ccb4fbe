"""Records endpoints: list and filters, create, read, partial update, delete."""

from __future__ import annotations

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.models import Record


def _event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def test_list_records(acme):
    response = acme.viewer_api.get("/records")
    assert response.status_code == 200
    data = response.json()
    assert data["next_offset"] is None
    [item] = data["items"]
    assert item["id"] == acme.record.pk
    assert item["title"] == "acme record"
    assert item["workspace"] == {"id": acme.workspace.pk, "name": "acme workspace"}
    assert item["labels"] == [{"id": acme.label.pk, "name": "acme-label", "colour": "#1f6feb"}]
    assert item["properties"] == {"owner": "acme"}
    assert item["classification"] == "internal"
    assert item["created_at"].endswith("Z")


def test_list_filters_by_text_label_and_workspace(acme):
    by_admin = Actor.for_user(acme.admin)
    other_ws = actions.create_workspace(actor=by_admin, name="second")
    second_label = actions.create_label(actor=by_admin, name="second-label")
    both = actions.create_record(actor=by_admin, workspace_id=acme.workspace.pk, title="Quarterly plan",
                                 label_ids=[acme.label.pk, second_label.pk])
    elsewhere = actions.create_record(actor=by_admin, workspace_id=other_ws.pk, title="quarterly elsewhere")
    api = acme.admin_api

    def ids(**params):
        response = api.get("/records", params=params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids(q="QUARTERLY") == {both.pk, elsewhere.pk}
    assert ids(label=acme.label.pk) == {both.pk, acme.record.pk}
    assert ids(label=[acme.label.pk, second_label.pk]) == {both.pk}
    assert ids(workspace=other_ws.pk) == {elsewhere.pk}
    assert ids(q="quarterly", workspace=acme.workspace.pk) == {both.pk}


def test_list_paginates_by_offset(acme):
    by_admin = Actor.for_user(acme.admin)
    for n in range(4):
        actions.create_record(actor=by_admin, workspace_id=acme.workspace.pk, title=f"r{n}")
    first = acme.admin_api.get("/records", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    rest = acme.admin_api.get("/records", params={"limit": 2, "offset": 4}).json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    seen = [i["id"] for i in first["items"]] + [i["id"] for i in rest["items"]]
    assert len(set(seen)) == 3


def test_limit_above_100_is_422(acme):
    response = acme.admin_api.get("/records", params={"limit": 101})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"


def test_viewer_does_not_see_restricted_records(acme):
    secret = actions.create_record(actor=Actor.for_user(acme.admin), workspace_id=acme.workspace.pk,
                                   title="restricted one", classification="restricted")
    assert acme.viewer_api.get(f"/records/{secret.pk}").status_code == 404
    ids = {i["id"] for i in acme.viewer_api.get("/records").json()["items"]}
    assert secret.pk not in ids
    assert acme.editor_api.get(f"/records/{secret.pk}").status_code == 200


def test_create_record_is_audited_as_api_token(acme):
    response = acme.editor_api.post("/records", {
        "workspace_id": acme.workspace.pk, "title": "From the API", "body": "text",
        "properties": {"k": "v"}, "classification": "confidential", "label_ids": [acme.label.pk],
    })
    assert response.status_code == 201, response.content
    data = response.json()
    record = Record.objects.get(pk=data["id"])
    assert record.title == "From the API" and record.classification == "confidential"
    assert data["labels"][0]["id"] == acme.label.pk
    assert data["created_by_id"] == acme.editor.pk
    event = _event("record.created")
    assert event.target_id == str(record.pk)
    assert event.actor_type == "api_token"
    assert event.actor_id == str(acme.editor.pk)
    assert "token" in event.actor_label


def test_get_record(acme):
    response = acme.viewer_api.get(f"/records/{acme.record.pk}")
    assert response.status_code == 200
    assert response.json()["body"] == "acme body"


def test_patch_changes_only_given_fields(acme):
    response = acme.editor_api.patch(f"/records/{acme.record.pk}", {"title": "renamed", "label_ids": []})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["title"] == "renamed"
    assert data["body"] == "acme body"
    assert data["properties"] == {"owner": "acme"}
    assert data["labels"] == []
    event = _event("record.updated")
    assert event.actor_type == "api_token"
    assert event.after["title"] == "renamed"


def test_patch_with_null_keeps_value(acme):
    response = acme.editor_api.patch(f"/records/{acme.record.pk}", {"body": None})
    assert response.status_code == 200
    assert response.json()["body"] == "acme body"


def test_delete_record(acme):
    response = acme.editor_api.delete(f"/records/{acme.record.pk}")
    assert response.status_code == 204
    assert response.content == b""
    assert not Record.objects.filter(pk=acme.record.pk).exists()
    assert _event("record.deleted").actor_type == "api_token"
    assert acme.editor_api.get(f"/records/{acme.record.pk}").status_code == 404


def test_unknown_workspace_and_label_are_field_errors(acme):
    response = acme.editor_api.post("/records", {"workspace_id": 999999, "title": "x"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspace_id"
    response = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk, "title": "x",
                                                 "label_ids": [999999]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["label_ids"]


def test_field_errors_from_validation(acme):
    response = acme.editor_api.post("/records", {
        "workspace_id": acme.workspace.pk, "title": "", "classification": "top-secret",
        "properties": {"k": "v" * 1001},
    })
    assert response.status_code == 422
    problem = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"title", "classification", "properties.k"}
    assert problem["status"] == 422 and problem["title"] and problem["detail"]


def test_blank_title_after_strip_is_a_field_error_from_the_action(acme):
    response = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk, "title": "   "},
                                    HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "title", "message": "This field is required."}]


def test_viewer_gets_403_on_writes(acme):
    api = acme.viewer_api
    assert api.post("/records", {"workspace_id": acme.workspace.pk, "title": "x"}).status_code == 403
    assert api.patch(f"/records/{acme.record.pk}", {"title": "x"}).status_code == 403
    assert api.delete(f"/records/{acme.record.pk}").status_code == 403
    assert Record.objects.get(pk=acme.record.pk).title == "acme record"
    assert AuditEvent.objects.filter(action="access.denied", actor_type="api_token").count() == 3


def test_html_and_script_are_stored_verbatim_and_returned_as_json(acme):
    xss = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = acme.editor_api.post("/records", {
        "workspace_id": acme.workspace.pk, "title": xss, "body": xss, "properties": {xss: xss},
    })
    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    record = Record.objects.get(pk=response.json()["id"])
    assert record.title == xss and record.body == xss and record.properties == {xss: xss}
    fetched = acme.viewer_api.get(f"/records/{record.pk}")
    assert fetched["Content-Type"].startswith("application/json")
    assert fetched.json()["title"] == xss
    assert fetched.json()["properties"] == {xss: xss}
    assert b"&lt;script" not in fetched.content


def test_records_list_runs_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    by_admin = Actor.for_user(acme.admin)
    labels = [actions.create_label(actor=by_admin, name=f"l{n}") for n in range(5)]
    for n in range(30):
        actions.create_record(actor=by_admin, workspace_id=acme.workspace.pk, title=f"record {n}",
                              label_ids=[label.pk for label in labels[: n % 5 + 1]])
    # auth (token + user + tenant), last-used stamp, records page, labels prefetch, savepoints
    with django_assert_max_num_queries(10) as small:
        response = acme.admin_api.get("/records", params={"limit": 2})
    assert len(response.json()["items"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = acme.admin_api.get("/records", params={"limit": 100})
    assert len(response.json()["items"]) == 31


def test_unit_admin_creating_a_restricted_record_gets_it_back(acme, user_factory, api_token, make_api):
    """unit_admin may edit records but not open restricted ones: the create still answers 201."""
    from mamori.access.roles import Role

    unit_admin = user_factory(acme.tenant, "unit@acme.example", Role.UNIT_ADMIN)
    actions.add_workspace_member(actor=Actor.for_user(acme.admin), workspace_id=acme.workspace.pk,
                                 user_id=unit_admin.pk)
    api = make_api(api_token(unit_admin))
    response = api.post("/records", {"workspace_id": acme.workspace.pk, "title": "secret",
                                      "classification": "restricted"})
    assert response.status_code == 201, response.content
    assert response.json()["classification"] == "restricted"
    assert api.get(f"/records/{response.json()['id']}").status_code == 404
