"""SCIM Groups = organizational units: create, list, filter, PATCH members, replace, delete."""

from __future__ import annotations

import pytest

from mamori.access.actions import create_unit
from mamori.access.models import OrgUnit, UnitMembership
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from tests.scim.conftest import GROUP_SCHEMA, PATCH_SCHEMA, new_user

pytestmark = pytest.mark.django_db


def _group(scim, name="Sales", **extra):
    response = scim.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def _members(unit_id) -> set[int]:
    return set(UnitMembership.objects.filter(unit_id=unit_id).values_list("user_id", flat=True))


def _patch(scim, group_id, *operations):
    return scim.scim("PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def test_create_group_is_a_unit_with_members(scim):
    alice = new_user(scim, "alice@acme.example")
    body = _group(scim, "Sales", externalId="g-1", members=[{"value": alice["id"]}])
    unit = OrgUnit.objects.get(pk=body["id"])
    assert unit.name == "Sales" and unit.parent_id is None
    assert _members(unit.pk) == {int(alice["id"])}
    assert body["externalId"] == "g-1"
    assert body["members"] == [{"value": alice["id"], "$ref": alice["meta"]["location"], "type": "User"}]
    actions = set(AuditEvent.objects.filter(target_id=str(unit.pk)).values_list("action", flat=True))
    assert {"unit.created", "scim.group_provisioned", "unit.members_changed"} <= actions


def test_console_units_are_groups_and_filters(scim, admin):
    create_unit(actor=Actor.for_user(admin), name="Tokyo office")
    _group(scim, "Sales", externalId="g-1")
    listed = scim.scim("GET", "/Groups").json()
    assert sorted(g["displayName"] for g in listed["Resources"]) == ["Sales", "Tokyo office"]
    found = scim.scim("GET", "/Groups", {"filter": 'displayName eq "tokyo OFFICE"'}).json()
    assert [g["displayName"] for g in found["Resources"]] == ["Tokyo office"]
    found = scim.scim("GET", "/Groups", {"filter": 'externalId eq "g-1"', "excludedAttributes": "members"}).json()
    assert [g["displayName"] for g in found["Resources"]] == ["Sales"]
    bad = scim.scim("GET", "/Groups", {"filter": 'userName eq "x"'})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"


def test_member_filter(scim):
    alice = new_user(scim, "alice@acme.example")
    _group(scim, "Sales", members=[{"value": alice["id"]}])
    _group(scim, "Empty")
    found = scim.scim("GET", "/Groups", {"filter": f'members[value eq "{alice["id"]}"]'}).json()
    assert [g["displayName"] for g in found["Resources"]] == ["Sales"]


def test_patch_members_add_and_remove(scim):
    alice, bob = new_user(scim, "alice@acme.example"), new_user(scim, "bob@acme.example")
    group = _group(scim, "Sales")
    response = _patch(scim, group["id"], {"op": "Add", "path": "members",
                                          "value": [{"value": alice["id"]}, {"value": bob["id"]}]})
    assert response.status_code == 200, response.content
    assert _members(group["id"]) == {int(alice["id"]), int(bob["id"])}
    # Entra ID removes with a value; the filter form works too
    _patch(scim, group["id"], {"op": "Remove", "path": "members", "value": [{"value": alice["id"]}]})
    assert _members(group["id"]) == {int(bob["id"])}
    _patch(scim, group["id"], {"op": "remove", "path": f'members[value eq "{bob["id"]}"]'})
    assert _members(group["id"]) == set()
    renamed = _patch(scim, group["id"], {"op": "replace", "path": "displayName", "value": "Sales JP"}).json()
    assert renamed["displayName"] == "Sales JP" and OrgUnit.objects.get(pk=group["id"]).name == "Sales JP"


def test_unknown_or_nested_members_are_refused(scim):
    group = _group(scim, "Sales")
    other = _group(scim, "Other")
    unknown = _patch(scim, group["id"], {"op": "add", "path": "members", "value": [{"value": "999999"}]})
    assert unknown.status_code == 400 and unknown.json()["scimType"] == "invalidValue"
    nested = _patch(scim, group["id"], {"op": "add", "path": "members",
                                        "value": [{"value": other["id"], "type": "Group"}]})
    assert nested.status_code == 400
    assert _members(group["id"]) == set()


def test_replace_group(scim):
    alice, bob = new_user(scim, "alice@acme.example"), new_user(scim, "bob@acme.example")
    group = _group(scim, "Sales", members=[{"value": alice["id"]}])
    response = scim.scim("PUT", f"/Groups/{group['id']}", {
        "schemas": [GROUP_SCHEMA], "displayName": "Sales 2", "externalId": "x9", "members": [{"value": bob["id"]}]})
    assert response.status_code == 200, response.content
    assert _members(group["id"]) == {int(bob["id"])}
    assert response.json()["externalId"] == "x9"


def test_duplicate_group_name_is_uniqueness(scim):
    _group(scim, "Sales")
    again = scim.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    missing = scim.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA]})
    assert missing.status_code == 400


def test_delete_group_with_members(scim):
    alice = new_user(scim, "alice@acme.example")
    group = _group(scim, "Sales", members=[{"value": alice["id"]}])
    assert scim.scim("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert not OrgUnit.objects.filter(pk=group["id"]).exists()
    assert AuditEvent.objects.filter(action="unit.deleted", target_id=group["id"], actor_type="scim").exists()
    assert scim.scim("GET", f"/Groups/{group['id']}").status_code == 404


def test_delete_group_with_sub_units_is_refused(scim, admin):
    group = _group(scim, "Sales")
    create_unit(actor=Actor.for_user(admin), name="Osaka", parent_id=int(group["id"]))
    response = scim.scim("DELETE", f"/Groups/{group['id']}")
    assert response.status_code == 400 and response.json()["scimType"] == "mutability"
    assert OrgUnit.objects.filter(pk=group["id"]).exists()
