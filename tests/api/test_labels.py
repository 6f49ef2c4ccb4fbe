"""Labels."""

from __future__ import annotations

from mamori.audit.models import AuditEvent
from mamori.records.models import Label


def _last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def test_list_labels(acme):
    response = acme.viewer_api.get("/labels")
    assert response.status_code == 200
    assert response.json() == {
        "items": [{"id": acme.label.pk, "name": "acme-label", "colour": "#1f6feb"}],
        "next_offset": None,
    }


def test_create_get_patch_delete_label(acme):
    api = acme.admin_api
    created = api.post("/labels", {"name": "urgent", "colour": "#FF0000"})
    assert created.status_code == 201, created.content
    label_id = created.json()["id"]
    assert created.json()["colour"] == "#ff0000"
    assert _last("label.created").actor_type == "api_token"
    assert api.get(f"/labels/{label_id}").json()["name"] == "urgent"

    patched = api.patch(f"/labels/{label_id}", {"name": "very urgent"})
    assert patched.status_code == 200
    assert patched.json() == {"id": label_id, "name": "very urgent", "colour": "#ff0000"}
    assert _last("label.updated").actor_type == "api_token"

    assert api.delete(f"/labels/{label_id}").status_code == 204
    assert not Label.objects.filter(pk=label_id).exists()
    assert _last("label.deleted").actor_type == "api_token"


def test_bad_colour_is_a_field_error(acme):
    response = acme.admin_api.post("/labels", {"name": "x", "colour": "red"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "colour"


def test_editor_and_viewer_cannot_manage_labels(acme):
    for api in (acme.editor_api, acme.viewer_api):
        assert api.post("/labels", {"name": "x"}).status_code == 403
        assert api.patch(f"/labels/{acme.label.pk}", {"name": "x"}).status_code == 403
        assert api.delete(f"/labels/{acme.label.pk}").status_code == 403
    assert Label.objects.get(pk=acme.label.pk).name == "acme-label"
