"""Organizational unit actions and queries: the tree, its limits, members and unit admins."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mamori.access import actions
from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.queries import MAX_UNIT_DEPTH, unit_members, unit_paths, unit_tree
from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English (they are translated for Japanese users)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def _by(user) -> Actor:
    return Actor.for_user(user)


def _last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


@pytest.fixture
def tree(admin):
    """Acme → Sales → Tokyo, and Acme → HR."""
    by = _by(admin)
    acme = actions.create_unit(actor=by, name="Acme", code="ACME")
    sales = actions.create_unit(actor=by, name="Sales", parent_id=acme.pk, code="SALES")
    tokyo = actions.create_unit(actor=by, name="Tokyo", parent_id=sales.pk)
    hr = actions.create_unit(actor=by, name="HR", parent_id=acme.pk)
    return {"acme": acme, "sales": sales, "tokyo": tokyo, "hr": hr}


def _field_error(exc: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(exc.value.message_dict[field])


# --- create / update ----------------------------------------------------------------

def test_create_unit_writes_event_with_snapshot(admin, tree):
    event = _last("unit.created")
    assert event.target_id == str(tree["hr"].pk)
    assert event.after == {"name": "HR", "code": "", "parent": "Acme"}
    assert tree["tokyo"].parent_id == tree["sales"].pk


def test_name_is_required_and_bounded(admin):
    with pytest.raises(ValidationError) as exc:
        actions.create_unit(actor=_by(admin), name="   ")
    assert "required" in _field_error(exc, "name")
    with pytest.raises(ValidationError) as exc:
        actions.create_unit(actor=_by(admin), name="x" * 101)
    assert "name" in exc.value.message_dict


def test_sibling_names_are_unique_also_at_the_top(admin, tree):
    with pytest.raises(ValidationError) as exc:
        actions.create_unit(actor=_by(admin), name="Acme")  # NULL parent: the DB constraint cannot see this
    assert "already exists" in _field_error(exc, "name")
    with pytest.raises(ValidationError):
        actions.create_unit(actor=_by(admin), name="Tokyo", parent_id=tree["sales"].pk)
    # The same name elsewhere in the tree is fine.
    actions.create_unit(actor=_by(admin), name="Tokyo", parent_id=tree["hr"].pk)


def test_code_is_unique_and_well_formed(admin, tree):
    with pytest.raises(ValidationError) as exc:
        actions.create_unit(actor=_by(admin), name="Other", code="SALES")
    assert "code" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        actions.create_unit(actor=_by(admin), name="Other", code="=HYPERLINK(1)")
    assert "code" in exc.value.message_dict
    unit = actions.update_unit(actor=_by(admin), unit_id=tree["hr"].pk, code="HR-1")
    assert unit.code == "HR-1"


def test_unknown_or_foreign_parent_is_a_field_error(admin, tree, other_tenant, outsider):
    with use_tenant(other_tenant):
        foreign = actions.create_unit(actor=_by(outsider), name="Globex")
    for parent in (foreign.pk, 10**12, "x"):
        with pytest.raises(ValidationError) as exc:
            actions.create_unit(actor=_by(admin), name="Stray", parent_id=parent)
        assert "parent" in exc.value.message_dict


def test_depth_is_capped(admin):
    parent = None
    for level in range(MAX_UNIT_DEPTH):
        parent = actions.create_unit(actor=_by(admin), name=f"L{level + 1}", parent_id=parent.pk if parent else None)
    with pytest.raises(ValidationError) as exc:
        actions.create_unit(actor=_by(admin), name="Too deep", parent_id=parent.pk)
    assert str(MAX_UNIT_DEPTH) in _field_error(exc, "parent")


def test_rename_records_the_change(admin, tree):
    actions.update_unit(actor=_by(admin), unit_id=tree["hr"].pk, name="People")
    event = _last("unit.updated")
    assert (event.before, event.after) == ({"name": "HR"}, {"name": "People"})
    with pytest.raises(ValidationError):
        actions.update_unit(actor=_by(admin), unit_id=tree["hr"].pk, name="Sales")  # a sibling's name


def test_unchanged_update_writes_no_event(admin, tree):
    count = AuditEvent.objects.count()
    actions.update_unit(actor=_by(admin), unit_id=tree["hr"].pk, name="HR")
    assert AuditEvent.objects.count() == count


# --- move -----------------------------------------------------------------------------

def test_move_under_another_parent_and_to_the_top(admin, tree):
    actions.move_unit(actor=_by(admin), unit_id=tree["tokyo"].pk, parent_id=tree["hr"].pk)
    event = _last("unit.moved")
    assert (event.before, event.after) == ({"parent": "Sales"}, {"parent": "HR"})
    unit = actions.move_unit(actor=_by(admin), unit_id=tree["tokyo"].pk, parent_id=None)
    assert unit.parent_id is None
    assert unit_paths()[unit.pk] == "Tokyo"


@pytest.mark.parametrize("target", ["acme", "sales", "tokyo"])
def test_move_refuses_cycles(admin, tree, target):
    """A unit cannot go under itself or any of its descendants."""
    with pytest.raises(ValidationError) as exc:
        actions.move_unit(actor=_by(admin), unit_id=tree["acme"].pk, parent_id=tree[target].pk)
    assert "sub-units" in _field_error(exc, "parent")
    assert OrgUnit.objects.get(pk=tree["acme"].pk).parent_id is None


def test_move_respects_the_depth_cap_for_the_whole_subtree(admin, tree):
    chain = None
    for level in range(MAX_UNIT_DEPTH - 1):
        chain = actions.create_unit(actor=_by(admin), name=f"C{level}", parent_id=chain.pk if chain else None)
    # Sales has two levels (Sales, Tokyo): under a unit at level 7 it would reach level 9.
    with pytest.raises(ValidationError):
        actions.move_unit(actor=_by(admin), unit_id=tree["sales"].pk, parent_id=chain.pk)
    leaf = actions.create_unit(actor=_by(admin), name="Leaf")
    actions.move_unit(actor=_by(admin), unit_id=leaf.pk, parent_id=chain.pk)  # level 8: allowed


def test_move_refuses_a_name_clash_at_the_destination(admin, tree):
    actions.create_unit(actor=_by(admin), name="Tokyo", parent_id=tree["hr"].pk)
    with pytest.raises(ValidationError) as exc:
        actions.move_unit(actor=_by(admin), unit_id=tree["tokyo"].pk, parent_id=tree["hr"].pk)
    assert "name" in exc.value.message_dict


# --- delete ---------------------------------------------------------------------------

def test_delete_refuses_units_with_children_or_members(admin, tree, viewer):
    with pytest.raises(ValidationError) as exc:
        actions.delete_unit(actor=_by(admin), unit_id=tree["sales"].pk)
    assert "sub-units" in _field_error(exc, "unit")
    actions.add_unit_member(actor=_by(admin), unit_id=tree["tokyo"].pk, user_id=viewer.pk)
    with pytest.raises(ValidationError) as exc:
        actions.delete_unit(actor=_by(admin), unit_id=tree["tokyo"].pk)
    assert "members" in _field_error(exc, "unit")
    assert OrgUnit.objects.filter(pk=tree["tokyo"].pk).exists()


def test_delete_an_empty_unit_ends_its_admin_assignments(admin, tree, user_factory, tenant):
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    actions.assign_unit_admin(actor=_by(admin), unit_id=tree["hr"].pk, user_id=boss.pk)
    actions.delete_unit(actor=_by(admin), unit_id=tree["hr"].pk)
    assert not OrgUnit.objects.filter(pk=tree["hr"].pk).exists()
    assert not UnitAdminScope.objects.filter(user=boss).exists()
    assert _last("unit.deleted").before["admins"] == ["boss@acme.example"]


# --- members --------------------------------------------------------------------------

def test_add_and_remove_member(admin, tree, viewer):
    actions.add_unit_member(actor=_by(admin), unit_id=tree["sales"].pk, user_id=viewer.pk)
    actions.add_unit_member(actor=_by(admin), unit_id=tree["sales"].pk, user_id=viewer.pk)  # idempotent
    assert AuditEvent.objects.filter(action="unit.member_added").count() == 1
    assert _last("unit.member_added").after == {"user": viewer.email}
    actions.remove_unit_member(actor=_by(admin), unit_id=tree["sales"].pk, user_id=viewer.pk)
    assert not UnitMembership.objects.filter(user=viewer).exists()
    with pytest.raises(NotFound):
        actions.remove_unit_member(actor=_by(admin), unit_id=tree["sales"].pk, user_id=viewer.pk)


def test_set_members_lists_who_was_added_and_removed(admin, tree, viewer, editor):
    actions.add_unit_member(actor=_by(admin), unit_id=tree["hr"].pk, user_id=viewer.pk)
    result = actions.set_unit_members(actor=_by(admin), unit_id=tree["hr"].pk, user_ids=[editor.pk])
    assert result == [editor.pk]
    event = _last("unit.members_changed")
    assert event.before == {"removed": [viewer.email]} and event.after == {"added": [editor.email]}
    count = AuditEvent.objects.count()
    actions.set_unit_members(actor=_by(admin), unit_id=tree["hr"].pk, user_ids=[editor.pk])
    assert AuditEvent.objects.count() == count  # no change, no event


def test_members_of_another_tenant_or_suspended_cannot_be_added(admin, tree, outsider, viewer):
    with pytest.raises(NotFound):
        actions.add_unit_member(actor=_by(admin), unit_id=tree["hr"].pk, user_id=outsider.pk)
    with pytest.raises(NotFound):
        actions.set_unit_members(actor=_by(admin), unit_id=tree["hr"].pk, user_ids=[outsider.pk])
    viewer.is_active = False
    viewer.save()
    with pytest.raises(NotFound):
        actions.add_unit_member(actor=_by(admin), unit_id=tree["hr"].pk, user_id=viewer.pk)


def test_tree_counts_members_with_descendants(admin, tree, viewer, editor):
    actions.add_unit_member(actor=_by(admin), unit_id=tree["sales"].pk, user_id=viewer.pk)
    actions.add_unit_member(actor=_by(admin), unit_id=tree["tokyo"].pk, user_id=viewer.pk)
    actions.add_unit_member(actor=_by(admin), unit_id=tree["tokyo"].pk, user_id=editor.pk)
    nodes = {n.unit.name: n for n in unit_tree(admin)}
    assert [n.unit.name for n in unit_tree(admin)] == ["Acme", "HR", "Sales", "Tokyo"]  # depth first
    assert (nodes["Sales"].members, nodes["Sales"].members_total) == (1, 2)  # viewer counted once
    assert (nodes["Acme"].members, nodes["Acme"].members_total) == (0, 2)
    assert nodes["Tokyo"].depth == 2 and nodes["Tokyo"].path == "Acme / Sales / Tokyo"
    assert set(unit_members(admin, tree["sales"].pk)) == {viewer}
    assert set(unit_members(admin, tree["sales"].pk, include_descendants=True)) == {viewer, editor}


def test_tree_query_count_does_not_grow_with_the_tree(admin, tree, django_assert_max_num_queries):
    for i in range(20):
        actions.create_unit(actor=_by(admin), name=f"Team {i}", parent_id=tree["tokyo"].pk)
    with django_assert_max_num_queries(8):
        assert len(unit_tree(admin)) == 24


# --- unit admins ------------------------------------------------------------------------

def test_assign_unit_admin_requires_the_unit_admin_role(admin, tree, editor, user_factory, tenant):
    with pytest.raises(ValidationError) as exc:
        actions.assign_unit_admin(actor=_by(admin), unit_id=tree["sales"].pk, user_id=editor.pk)
    assert "role" in _field_error(exc, "user_id")
    with pytest.raises(ValidationError) as exc:
        actions.assign_unit_admin(actor=_by(admin), unit_id=tree["sales"].pk, user_id=admin.pk)
    assert "tenant admin" in _field_error(exc, "user_id")
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    actions.assign_unit_admin(actor=_by(admin), unit_id=tree["sales"].pk, user_id=boss.pk)
    assert _last("unit.admin_assigned").after == {"user": boss.email}
    actions.remove_unit_admin(actor=_by(admin), unit_id=tree["sales"].pk, user_id=boss.pk)
    assert _last("unit.admin_removed").before == {"user": boss.email}
    with pytest.raises(NotFound):
        actions.remove_unit_admin(actor=_by(admin), unit_id=tree["sales"].pk, user_id=boss.pk)


@pytest.mark.parametrize("role", [Role.UNIT_ADMIN, Role.EDITOR, Role.REVIEWER, Role.VIEWER])
def test_only_tenant_admins_manage_units_and_unit_admins(role, admin, tree, user_factory, tenant):
    user = user_factory(tenant, f"{role}@acme.example", role)
    UnitAdminScope.objects.create(unit=tree["acme"], user=user)  # even over the whole tree
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    attempts = [
        lambda: actions.create_unit(actor=_by(user), name="Mine", parent_id=tree["sales"].pk),
        lambda: actions.update_unit(actor=_by(user), unit_id=tree["sales"].pk, name="Mine"),
        lambda: actions.move_unit(actor=_by(user), unit_id=tree["tokyo"].pk, parent_id=tree["hr"].pk),
        lambda: actions.delete_unit(actor=_by(user), unit_id=tree["tokyo"].pk),
        lambda: actions.assign_unit_admin(actor=_by(user), unit_id=tree["sales"].pk, user_id=boss.pk),
        lambda: actions.remove_unit_admin(actor=_by(user), unit_id=tree["acme"].pk, user_id=user.pk),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert AuditEvent.objects.filter(action="access.denied", actor_id=str(user.pk)).count() == len(attempts)
    assert OrgUnit.objects.count() == 4


def test_units_of_another_tenant_are_not_found(admin, tree, other_tenant, outsider):
    with use_tenant(other_tenant):
        for attempt in (
            lambda: actions.update_unit(actor=_by(outsider), unit_id=tree["hr"].pk, name="Mine"),
            lambda: actions.delete_unit(actor=_by(outsider), unit_id=tree["hr"].pk),
            lambda: actions.add_unit_member(actor=_by(outsider), unit_id=tree["hr"].pk, user_id=outsider.pk),
        ):
            with pytest.raises(NotFound):
                attempt()
