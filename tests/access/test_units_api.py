"""The units API: tree, create/update/move/delete, members, unit admins, problem details."""

from __future__ import annotations

import pytest

from mamori.access.models import OrgUnit, UnitAdminScope
from mamori.access.roles import Role
from tests.api.conftest import ApiClient


@pytest.fixture
def api(admin, api_token):
    return ApiClient(api_token(admin))


def test_create_list_update_move_delete(api):
    acme = api.post("/units", {"name": "Acme", "code": "ACME"})
    assert acme.status_code == 201, acme.content
    acme_id = acme.json()["id"]
    sales = api.post("/units", {"name": "Sales", "parent_id": acme_id}).json()
    assert sales["path"] == "Acme / Sales" and sales["depth"] == 1
    assert [u["name"] for u in api.get("/units").json()["items"]] == ["Acme", "Sales"]
    assert api.patch(f"/units/{sales['id']}", {"name": "Sales JP"}).json()["name"] == "Sales JP"
    cycle = api.post(f"/units/{acme_id}/move", {"parent_id": sales["id"]})
    assert cycle.status_code == 422 and cycle["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in cycle.json()["errors"]] == ["parent_id"]
    refused = api.delete(f"/units/{acme_id}")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "__all__"
    assert api.post(f"/units/{sales['id']}/move", {}).json()["parent_id"] is None
    assert api.delete(f"/units/{acme_id}").status_code == 204


def test_members_and_admins(api, tenant, viewer, user_factory):
    unit = api.post("/units", {"name": "Sales"}).json()
    assert api.post(f"/units/{unit['id']}/members", {"user_id": viewer.pk}).status_code == 204
    assert [u["email"] for u in api.get(f"/units/{unit['id']}/members").json()["items"]] == [viewer.email]
    assert api.request("PUT", f"/units/{unit['id']}/members", {"user_ids": []}).json()["items"] == []
    bad = api.post(f"/units/{unit['id']}/admins", {"user_id": viewer.pk})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "user_id"
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    assert api.post(f"/units/{unit['id']}/admins", {"user_id": boss.pk}).status_code == 204
    assert [u["email"] for u in api.get(f"/units/{unit['id']}/admins").json()] == [boss.email]
    assert api.delete(f"/units/{unit['id']}/admins/{boss.pk}").status_code == 204


def test_unit_admin_sees_only_their_units(tenant, user_factory, api_token):
    top = OrgUnit.objects.create(name="Top")
    mine = OrgUnit.objects.create(name="Mine", parent=top)
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    UnitAdminScope.objects.create(user=boss, unit=mine)
    api = ApiClient(api_token(boss))
    assert [u["name"] for u in api.get("/units").json()["items"]] == ["Mine"]
    assert api.get(f"/units/{top.pk}").status_code == 404
    assert api.post("/units", {"name": "New"}).status_code == 403


def test_viewer_is_refused(viewer, api_token):
    api = ApiClient(api_token(viewer))
    assert api.get("/units").status_code == 403
    assert api.post("/units", {"name": "x"}).status_code == 403
