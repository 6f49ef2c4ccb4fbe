"""SCIM Users (RFC 7644 §3): create, read, list with filters and pages, replace, PATCH, delete."""

from __future__ import annotations

import pytest

from mamori.access.roles import Role
from mamori.accounts.models import User
from mamori.audit.models import AuditEvent
from tests.scim.conftest import PATCH_SCHEMA, USER_SCHEMA, new_user

pytestmark = pytest.mark.django_db


def _patch(scim, user_id, *operations):
    return scim.scim("PATCH", f"/Users/{user_id}", {"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def test_discovery_endpoints(scim):
    config = scim.scim("GET", "/ServiceProviderConfig")
    assert config.status_code == 200
    assert config["Content-Type"].startswith("application/scim+json")
    body = config.json()
    assert body["patch"]["supported"] is True and body["filter"]["supported"] is True
    assert body["bulk"]["supported"] is False
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.scim("GET", "/ResourceTypes").json()
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    assert scim.scim("GET", "/ResourceTypes/User").json()["endpoint"] == "/Users"
    schemas = scim.scim("GET", "/Schemas").json()
    assert {s["id"] for s in schemas["Resources"]} == {USER_SCHEMA, "urn:ietf:params:scim:schemas:core:2.0:Group"}
    user_schema = scim.scim("GET", f"/Schemas/{USER_SCHEMA}").json()
    assert {a["name"] for a in user_schema["attributes"]} == {"userName", "name", "displayName", "emails", "active"}
    assert scim.scim("GET", "/Schemas/urn:nope").status_code == 404
    assert scim.scim("POST", "/ServiceProviderConfig", {}).status_code == 405


def test_create_user_goes_through_the_console_action(scim, tenant):
    body = new_user(scim, "Barbara@Acme.example", externalId="ext-1", displayName="Barbara Jensen",
                    name={"givenName": "Barbara", "familyName": "Jensen"},
                    emails=[{"value": "barbara@acme.example", "type": "work", "primary": True}])
    assert body["userName"] == "Barbara@Acme.example"
    assert body["externalId"] == "ext-1" and body["active"] is True
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    user = User.objects.get(pk=body["id"])
    assert user.email == "barbara@acme.example" and user.name == "Barbara Jensen"
    assert user.role == Role.VIEWER and not user.has_usable_password()
    events = list(AuditEvent.objects.filter(target_id=str(user.pk)).values_list("action", "actor_type"))
    assert ("user.created", "scim") in events and ("scim.user_provisioned", "scim") in events
    fetched = scim.scim("GET", f"/Users/{user.pk}").json()
    assert fetched["name"] == {"givenName": "Barbara", "familyName": "Jensen"}
    assert fetched["displayName"] == "Barbara Jensen"


def test_user_name_that_is_an_email_is_enough(scim):
    body = new_user(scim, "solo@acme.example")
    assert body["emails"] == [{"value": "solo@acme.example", "primary": True}]


def test_created_user_gets_the_token_default_role(tenant, admin, make_scim_token, scim_for):
    _token, raw = make_scim_token(tenant, admin, default_role=Role.EDITOR)
    body = new_user(scim_for(raw), "ed@acme.example")
    assert User.objects.get(pk=body["id"]).role == Role.EDITOR


def test_create_inactive_user_is_suspended(scim):
    body = new_user(scim, "off@acme.example", active=False)
    assert body["active"] is False
    assert User.objects.get(pk=body["id"]).is_active is False


@pytest.mark.parametrize("payload, scim_type", [
    ({"schemas": [USER_SCHEMA]}, "invalidValue"),  # no userName
    ({"schemas": [USER_SCHEMA], "userName": "no-email"}, "invalidValue"),
    ({"schemas": [USER_SCHEMA], "userName": "x", "emails": [{"value": "not an address"}]}, "invalidValue"),
    ({"schemas": ["urn:example:bogus"], "userName": "a@acme.example"}, "invalidSyntax"),
    ({"userName": "a@acme.example"}, "invalidSyntax"),
    ({"schemas": [USER_SCHEMA, "urn:example:extra"], "userName": "a@acme.example"}, "invalidSyntax"),
    ({"schemas": [USER_SCHEMA], "userName": "a@acme.example", "active": "maybe"}, "invalidValue"),
])
def test_invalid_users_are_refused_with_an_audit_event(scim, payload, scim_type):
    response = scim.scim("POST", "/Users", payload)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "400" and body["scimType"] == scim_type
    event = AuditEvent.objects.filter(action="scim.request_refused").latest("id")
    assert event.actor_type == "scim" and event.after["scim_type"] == scim_type
    assert not User.objects.filter(email="a@acme.example").exists()


def test_body_that_is_not_json_is_invalid_syntax(scim):
    response = scim.post("/scim/v2/Users", "{not json", content_type="application/scim+json")
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"


def test_uniqueness_of_user_name_and_email(scim, admin):
    new_user(scim, "dup@acme.example")
    again = scim.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "DUP@acme.example"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    # an existing console user's e-mail is taken too
    clash = scim.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "other",
                                         "emails": [{"value": admin.email, "primary": True}]})
    assert clash.status_code == 409 and clash.json()["scimType"] == "uniqueness"


def test_console_users_are_listed_with_their_email_as_user_name(scim, admin, viewer):
    listed = scim.scim("GET", "/Users", {"filter": f'userName eq "{viewer.email.upper()}"'}).json()
    assert listed["totalResults"] == 1
    assert listed["Resources"][0]["userName"] == viewer.email
    assert listed["Resources"][0]["id"] == str(viewer.pk)


@pytest.fixture
def people(scim):
    made = {}
    for name, ext, active in (("alice", "A1", True), ("bob", "B2", True), ("carol", "C3", False),
                              ("alfred", "", True)):
        made[name] = new_user(scim, f"{name}@acme.example", externalId=ext or None, displayName=name.title(),
                              active=active)
    return made


def _names(scim, expression, **params):
    response = scim.scim("GET", "/Users", {"filter": expression, **params})
    assert response.status_code == 200, response.content
    return sorted(r["userName"].split("@")[0] for r in response.json()["Resources"])


def test_filters(scim, people):
    assert _names(scim, 'userName eq "alice@acme.example"') == ["alice"]
    assert _names(scim, 'userName sw "al"') == ["alfred", "alice"]
    assert _names(scim, 'userName co "ARO"') == ["carol"]
    assert _names(scim, 'emails.value ew "bob@acme.example"') == ["bob"]
    assert _names(scim, 'emails[value eq "bob@acme.example"]') == ["bob"]
    assert _names(scim, 'externalId eq "B2"') == ["bob"]
    assert _names(scim, 'externalId eq "b2"') == []  # externalId is case-exact
    assert _names(scim, 'active eq false') == ["carol"]
    assert _names(scim, 'displayName eq "ALICE"') == ["alice"]
    assert _names(scim, 'externalId pr and userName sw "a"') == ["alice"]
    assert _names(scim, 'userName eq "bob@acme.example" or externalId eq "C3"') == ["bob", "carol"]
    assert _names(scim, 'userName sw "al" and not (externalId pr)') == ["alfred"]
    assert _names(scim, 'id eq "999999"') == []
    assert _names(scim, f'id eq "{people["bob"]["id"]}"') == ["bob"]


@pytest.mark.parametrize("expression", [
    'userName eq', 'userName zz "a"', 'title eq "boss"', 'active eq "yes"', 'active gt true',
    '(userName eq "a"', 'urn:example:x:foo eq "a"', 'name.givenName eq "a"',
])
def test_invalid_filters_are_refused_and_audited(scim, people, expression):
    response = scim.scim("GET", "/Users", {"filter": expression})
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidFilter"
    event = AuditEvent.objects.filter(action="scim.request_refused").latest("id")
    assert event.after["scim_type"] == "invalidFilter" and event.after["method"] == "GET"


def test_pagination(scim, people, admin):
    everyone = scim.scim("GET", "/Users").json()
    total = everyone["totalResults"]
    assert total == len(people) + 2  # plus the tenant owner and the fixture admin
    first = scim.scim("GET", "/Users", {"startIndex": 1, "count": 2}).json()
    second = scim.scim("GET", "/Users", {"startIndex": 3, "count": 2}).json()
    assert first["totalResults"] == total and first["itemsPerPage"] == 2 and first["startIndex"] == 1
    ids = [r["id"] for r in first["Resources"] + second["Resources"]]
    assert len(set(ids)) == 4
    zero = scim.scim("GET", "/Users", {"count": 0}).json()
    assert zero["totalResults"] == total and zero["Resources"] == []
    assert scim.scim("GET", "/Users", {"startIndex": "x"}).status_code == 400
    beyond = scim.scim("GET", "/Users", {"startIndex": 1000}).json()
    assert beyond["Resources"] == [] and beyond["totalResults"] == total


def test_attributes_and_excluded_attributes(scim, people):
    only = scim.scim("GET", f"/Users/{people['bob']['id']}", {"attributes": "userName"}).json()
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.scim("GET", "/Users", {"excludedAttributes": "emails"}).json()
    assert all("emails" not in r for r in without["Resources"])


def test_search_endpoint(scim, people):
    response = scim.scim("POST", "/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "al"', "attributes": ["userName"], "count": 10})
    assert response.status_code == 200
    assert sorted(r["userName"] for r in response.json()["Resources"]) == ["alfred@acme.example",
                                                                          "alice@acme.example"]
    both = scim.scim("POST", "/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                          "filter": 'userName sw "al"'}).json()
    assert both["totalResults"] == 2  # Groups have no userName: they match nothing
    assert scim.scim("POST", "/.search", {"schemas": []}).status_code == 400


def test_replace_user(scim, people):
    bob = people["bob"]
    response = scim.scim("PUT", f"/Users/{bob['id']}", {
        "schemas": [USER_SCHEMA], "userName": "robert@acme.example", "externalId": "B9",
        "emails": [{"value": "robert@acme.example", "type": "work", "primary": True}],
        "name": {"formatted": "Robert"}, "active": False})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["userName"] == "robert@acme.example" and body["externalId"] == "B9"
    assert body["active"] is False and "displayName" not in body
    user = User.objects.get(pk=bob["id"])
    assert (user.email, user.name, user.is_active) == ("robert@acme.example", "Robert", False)
    actions = set(AuditEvent.objects.filter(target_id=bob["id"]).values_list("action", flat=True))
    assert {"scim.user_changed", "user.updated", "user.suspended"} <= actions


def test_patch_operations(scim, people):
    alice = people["alice"]["id"]
    response = _patch(scim, alice,
                      {"op": "Replace", "path": "active", "value": "False"},  # Entra ID's spelling
                      {"op": "add", "path": 'emails[type eq "home"].value', "value": "alice.home@example.com"},
                      {"op": "replace", "path": "name.familyName", "value": "Liddell"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["active"] is False and body["name"]["familyName"] == "Liddell"
    assert {"value": "alice.home@example.com", "type": "home"} in body["emails"]
    assert User.objects.get(pk=alice).is_active is False
    assert AuditEvent.objects.filter(action="user.suspended", target_id=alice, actor_type="scim").exists()
    # no path: a value object; reactivation goes through reactivate_user
    body = _patch(scim, alice, {"op": "replace", "value": {"active": True, "displayName": "Alice L."}}).json()
    assert body["active"] is True and body["displayName"] == "Alice L."
    assert User.objects.get(pk=alice).name == "Alice L."
    assert AuditEvent.objects.filter(action="user.reactivated", target_id=alice).exists()
    # remove
    body = _patch(scim, alice, {"op": "remove", "path": "externalId"},
                  {"op": "remove", "path": 'emails[type eq "home"]'}).json()
    assert "externalId" not in body and len(body["emails"]) == 1


@pytest.mark.parametrize("operation, scim_type", [
    ({"op": "replace", "path": "id", "value": "5"}, "mutability"),
    ({"op": "remove", "path": "active"}, "mutability"),
    ({"op": "remove", "path": "userName"}, "mutability"),
    ({"op": "jump", "path": "active", "value": True}, "invalidValue"),
    ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
    ({"op": "replace", "path": "emails[", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": 'emails[type eq "zz"].primary', "value": True}, None),
])
def test_invalid_patches_are_refused(scim, people, operation, scim_type):
    response = _patch(scim, people["bob"]["id"], operation)
    if scim_type is None:  # creating a new entry without a value is refused somewhere: never a 500
        assert response.status_code in (200, 400)
        return
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == scim_type
    assert AuditEvent.objects.filter(action="scim.request_refused").exists()


def test_patch_needs_the_patch_schema(scim, people):
    response = scim.scim("PATCH", f"/Users/{people['bob']['id']}", {"Operations": [{"op": "remove",
                                                                                  "path": "externalId"}]})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"


def test_delete_user(scim, people):
    bob = people["bob"]["id"]
    assert scim.scim("DELETE", f"/Users/{bob}").status_code == 204
    assert not User.objects.filter(pk=bob).exists()
    assert AuditEvent.objects.filter(action="user.deleted", target_id=bob, actor_type="scim").exists()
    missing = scim.scim("GET", f"/Users/{bob}")
    assert missing.status_code == 404 and missing.json()["status"] == "404"
    assert scim.scim("DELETE", f"/Users/{bob}").status_code == 404
    assert scim.scim("GET", "/Users/not-a-number").status_code == 404


def test_last_admin_cannot_be_deprovisioned(scim, tenant):
    owners = list(User.objects.filter(role=Role.TENANT_ADMIN))
    for owner in owners[1:]:
        assert scim.scim("DELETE", f"/Users/{owner.pk}").status_code == 204
    last = owners[0]
    response = scim.scim("DELETE", f"/Users/{last.pk}")
    assert response.status_code == 400 and response.json()["scimType"] == "mutability"
    assert User.objects.filter(pk=last.pk).exists()
    suspended = _patch(scim, last.pk, {"op": "replace", "path": "active", "value": False})
    assert suspended.status_code == 400 and User.objects.get(pk=last.pk).is_active
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(last.pk)).exists()


def test_password_policy_applies_and_passwords_are_not_accepted(scim):
    # "password" is not an attribute Mamori accepts over SCIM: it is dropped, never stored.
    body = new_user(scim, "pw@acme.example", password="short")
    assert "password" not in body
    assert not User.objects.get(pk=body["id"]).has_usable_password()


def test_unknown_url_is_a_scim_404(scim):
    response = scim.scim("GET", "/Nothing/here")
    assert response.status_code == 404 and response.json()["status"] == "404"


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,  # deeper than the JSON decoder goes
    '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nul\\u0000@acme.example"}',
    '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "' + "x" * 300 + '@acme.example"}',
    '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@acme.example", '
    '"displayName": "' + "n" * 200 + '"}',
    '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 5, "emails": "x"}',
    "\xff\xfe",
])
def test_hostile_bodies_are_client_errors(scim, body):
    response = scim.post("/scim/v2/Users", body, content_type="application/scim+json")
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize("params", [
    {"filter": 'userName eq "a\\u0000b"'}, {"startIndex": str(10**30)}, {"count": str(-5)},
    {"count": str(10**30)}, {"filter": 'id eq "1.5"'}, {"filter": 'id eq "99999999999999999999999"'},
    {"attributes": "emails[type"}, {"filter": "a" * 5000},
])
def test_hostile_queries_are_never_server_errors(scim, people, params):
    response = scim.scim("GET", "/Users", params)
    assert response.status_code < 500, response.content[:300]


def test_patching_a_console_user_links_it(scim, viewer):
    response = _patch(scim, viewer.pk, {"op": "add", "path": "externalId", "value": "entra-42"})
    assert response.status_code == 200, response.content
    assert response.json()["userName"] == viewer.email and response.json()["externalId"] == "entra-42"
    assert _names(scim, 'externalId eq "entra-42"') == ["viewer"]
