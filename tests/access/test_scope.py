"""Unit admin scope (mamori.access.scope): a unit admin administers the users of the units
assigned to them and of all descendants, sees no one else, cannot grant an admin role and
cannot place users in units outside their scope."""

from __future__ import annotations

import pytest

from mamori.access import actions
from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.queries import access_unit, unit_tree, visible_units
from mamori.access.roles import Role
from mamori.access.scope import (
    administered_unit_ids,
    can_assign_units,
    can_manage_user,
    descendant_unit_ids,
    manageable_users,
)
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent


@pytest.fixture
def org(tenant):
    """Acme → Sales → Tokyo → Shibuya; Acme → HR; Other (a second top-level unit)."""
    acme = OrgUnit.objects.create(name="Acme")
    sales = OrgUnit.objects.create(name="Sales", parent=acme)
    tokyo = OrgUnit.objects.create(name="Tokyo", parent=sales)
    shibuya = OrgUnit.objects.create(name="Shibuya", parent=tokyo)
    hr = OrgUnit.objects.create(name="HR", parent=acme)
    other = OrgUnit.objects.create(name="Other")
    return {"acme": acme, "sales": sales, "tokyo": tokyo, "shibuya": shibuya, "hr": hr, "other": other}


@pytest.fixture
def people(tenant, org, user_factory):
    def member(email, role, unit):
        user = user_factory(tenant, email, role)
        UnitMembership.objects.create(user=user, unit=org[unit])
        return user

    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    UnitAdminScope.objects.create(user=boss, unit=org["sales"])
    return {
        "boss": boss,
        "seller": member("seller@acme.example", Role.EDITOR, "sales"),
        "deep": member("deep@acme.example", Role.VIEWER, "shibuya"),
        "clerk": member("clerk@acme.example", Role.EDITOR, "hr"),
        "stranger": member("stranger@acme.example", Role.VIEWER, "other"),
        "peer": member("peer@acme.example", Role.UNIT_ADMIN, "tokyo"),
        "chief": member("chief@acme.example", Role.TENANT_ADMIN, "tokyo"),
    }


def test_descendants_include_every_level(org):
    assert descendant_unit_ids([org["sales"].pk]) == {org[k].pk for k in ("sales", "tokyo", "shibuya")}
    assert descendant_unit_ids([org["acme"].pk]) == {org[k].pk for k in ("acme", "sales", "tokyo", "shibuya", "hr")}
    assert descendant_unit_ids([]) == set()


def test_scope_covers_assigned_units_and_their_descendants(org, people, admin):
    assert administered_unit_ids(people["boss"]) == {org[k].pk for k in ("sales", "tokyo", "shibuya")}
    assert administered_unit_ids(admin) is None  # everything
    assert administered_unit_ids(people["seller"]) == set()  # editors administer nothing


def test_users_outside_the_scope_are_invisible(org, people):
    boss = people["boss"]
    visible = set(manageable_users(boss))
    assert {people["seller"], people["deep"]} <= visible
    assert people["clerk"] not in visible and people["stranger"] not in visible
    assert can_manage_user(boss, people["deep"])  # a member three levels down
    for name in ("clerk", "stranger"):
        assert not can_manage_user(boss, people[name])


def test_admins_inside_the_scope_cannot_be_managed(org, people):
    for name in ("peer", "chief", "boss"):
        assert not can_manage_user(people["boss"], people[name]), name


def test_unit_admin_sees_only_their_units(org, people):
    boss = people["boss"]
    assert set(visible_units(boss)) == {org["sales"], org["tokyo"], org["shibuya"]}
    nodes = unit_tree(boss)
    assert [(n.unit.name, n.depth) for n in nodes] == [("Sales", 0), ("Tokyo", 1), ("Shibuya", 2)]
    for name in ("acme", "hr", "other"):
        with pytest.raises(NotFound):
            access_unit(boss, org[name].pk)


def test_scope_changes_when_the_tree_changes(org, people, admin):
    """Moving HR under Sales brings its users into the Sales admin's scope, at once."""
    assert not can_manage_user(people["boss"], people["clerk"])
    actions.move_unit(actor=Actor.for_user(admin), unit_id=org["hr"].pk, parent_id=org["sales"].pk)
    assert can_manage_user(people["boss"], people["clerk"])


def test_scope_has_no_effect_without_the_unit_admin_role(org, people):
    editor = people["seller"]
    UnitAdminScope.objects.create(user=editor, unit=org["acme"])
    assert administered_unit_ids(editor) == set()
    assert not manageable_users(editor).exists()


def test_unit_admin_cannot_grant_an_admin_role(org, people):
    from mamori.accounts.actions import create_user, update_user

    by = Actor.for_user(people["boss"])
    for role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN):
        with pytest.raises(PermissionDenied):
            create_user(actor=by, email=f"new-{role}@acme.example", role=role, unit_ids=[org["sales"].pk])
        with pytest.raises(PermissionDenied):
            update_user(actor=by, user=people["seller"].pk, role=role)
    people["seller"].refresh_from_db()
    assert people["seller"].role == Role.EDITOR
    with pytest.raises(PermissionDenied):
        actions.assign_unit_admin(actor=by, unit_id=org["tokyo"].pk, user_id=people["peer"].pk)
    assert AuditEvent.objects.filter(action="access.denied", actor_id=str(people["boss"].pk)).count() == 5


def test_unit_admin_cannot_assign_units_outside_their_scope(org, people):
    from mamori.accounts.actions import create_user, update_user

    boss = people["boss"]
    by = Actor.for_user(boss)
    assert can_assign_units(boss, [org["sales"].pk, org["shibuya"].pk])
    assert not can_assign_units(boss, [org["hr"].pk])
    assert not can_assign_units(boss, [org["sales"].pk, org["acme"].pk])
    with pytest.raises(PermissionDenied):
        create_user(actor=by, email="new@acme.example", role=Role.VIEWER, unit_ids=[org["hr"].pk])
    with pytest.raises(PermissionDenied):
        update_user(actor=by, user=people["seller"].pk, unit_ids=[org["other"].pk])
    # From the unit side: units outside the scope are not found.
    with pytest.raises(NotFound):
        actions.add_unit_member(actor=by, unit_id=org["hr"].pk, user_id=people["seller"].pk)
    with pytest.raises(NotFound):
        actions.set_unit_members(actor=by, unit_id=org["other"].pk, user_ids=[people["seller"].pk])


def test_unit_admin_changes_members_inside_their_scope(org, people):
    by = Actor.for_user(people["boss"])
    actions.add_unit_member(actor=by, unit_id=org["tokyo"].pk, user_id=people["seller"].pk)
    assert UnitMembership.objects.filter(user=people["seller"], unit=org["tokyo"]).exists()
    actions.remove_unit_member(actor=by, unit_id=org["shibuya"].pk, user_id=people["deep"].pk)
    assert not UnitMembership.objects.filter(user=people["deep"]).exists()


def test_unit_admin_cannot_pull_outsiders_or_admins_into_their_units(org, people):
    """Adding someone to a unit in scope would hand the unit admin power over them."""
    by = Actor.for_user(people["boss"])
    for name in ("clerk", "stranger", "peer", "chief"):
        with pytest.raises(NotFound):
            actions.add_unit_member(actor=by, unit_id=org["sales"].pk, user_id=people[name].pk)
        with pytest.raises(NotFound):
            actions.set_unit_members(actor=by, unit_id=org["sales"].pk,
                                     user_ids=[people["seller"].pk, people[name].pk])
    assert set(UnitMembership.objects.filter(unit=org["sales"]).values_list("user_id", flat=True)) == {
        people["seller"].pk}


def test_unit_admin_cannot_remove_admins_from_units(org, people):
    from django.core.exceptions import ValidationError

    by = Actor.for_user(people["boss"])
    with pytest.raises(NotFound):
        actions.remove_unit_member(actor=by, unit_id=org["tokyo"].pk, user_id=people["chief"].pk)
    with pytest.raises(ValidationError):
        actions.set_unit_members(actor=by, unit_id=org["tokyo"].pk, user_ids=[])
    assert UnitMembership.objects.filter(unit=org["tokyo"]).count() == 2


def test_unit_admin_acting_outside_scope_through_user_actions_gets_not_found(org, people):
    from mamori.accounts.actions import suspend_user, update_user

    by = Actor.for_user(people["boss"])
    for attempt in (
        lambda: update_user(actor=by, user=people["clerk"].pk, name="Hacked"),
        lambda: suspend_user(actor=by, user=people["stranger"].pk),
    ):
        with pytest.raises(NotFound):
            attempt()
    people["clerk"].refresh_from_db()
    assert people["clerk"].name != "Hacked"
