"""State changes for organizational units, their members and their unit admins.

Units (create, rename, move, delete) and unit admin assignments are the tenant
admin's (``Perm.MANAGE_UNITS``; assigning a unit admin also needs
``Perm.GRANT_ADMIN``). Members can also be changed by a unit admin, inside their
own scope only: the unit must be one they administer and each user one they may
manage (``mamori.access.scope``); anything else is not found. Each action writes
its audit event in its transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound, PermissionDenied, object_id
from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.queries import (
    MAX_UNIT_DEPTH,
    access_unit,
    parent_map,
    subtree_height,
    unit_depth,
)
from mamori.access.roles import Perm, Role, can
from mamori.access.scope import can_manage_user, descendant_unit_ids
from mamori.accounts.actions import require
from mamori.audit.events import Actor, diff, record_event, snapshot
from mamori.core.actions import action
from mamori.tenancy.context import require_tenant

UNIT_FIELDS = ["name", "code", "parent"]
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_MEMBERS_PER_CALL = 10_000


def _unit_snapshot(unit: OrgUnit) -> dict[str, Any]:
    data = snapshot(unit, ["name", "code"])
    data["parent"] = unit.parent.name if unit.parent_id else None
    return data


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("This field is required.")})
    if len(name) > 100:
        raise ValidationError({"name": _("At most %(n)d characters.") % {"n": 100}})
    if _CONTROL.search(name):
        raise ValidationError({"name": _("The name cannot contain control characters.")})
    return name


def _clean_code(code: str | None, *, exclude_pk: int | None = None) -> str:
    code = (code or "").strip()
    if not code:
        return ""
    if len(code) > 64:
        raise ValidationError({"code": _("At most %(n)d characters.") % {"n": 64}})
    if not CODE_PATTERN.match(code):
        raise ValidationError({"code": _(
            "Use letters A–Z, digits and the characters . _ - (starting with a letter or digit).")})
    if OrgUnit.objects.filter(code=code).exclude(pk=exclude_pk).exists():
        raise ValidationError({"code": _("Another unit already uses this code.")})
    return code


def _check_sibling_name(name: str, parent_id: int | None, *, exclude_pk: int | None = None) -> None:
    # Checked here as well as by the constraint: NULL parents (top-level units) are never equal in SQL.
    if OrgUnit.objects.filter(parent_id=parent_id, name=name).exclude(pk=exclude_pk).exists():
        raise ValidationError({"name": _("A unit with this name already exists at this place in the tree.")})


def _parent(actor: Actor, parent_id) -> OrgUnit | None:
    if parent_id in (None, ""):
        return None
    try:
        return access_unit(actor.user, parent_id)
    except NotFound:
        raise ValidationError({"parent": _("Unknown parent unit.")}) from None


# --- Units ------------------------------------------------------------------------

@action
def create_unit(*, actor: Actor, name: str, parent_id: int | None = None, code: str = "") -> OrgUnit:
    require_tenant()
    require(actor, Perm.MANAGE_UNITS)
    name = _clean_name(name)
    parent = _parent(actor, parent_id)
    if unit_depth(parent.pk if parent else None) + 1 > MAX_UNIT_DEPTH:
        raise ValidationError({"parent": _("Units can be nested at most %(n)d levels deep.") % {"n": MAX_UNIT_DEPTH}})
    _check_sibling_name(name, parent.pk if parent else None)
    unit = OrgUnit.objects.create(name=name, parent=parent, code=_clean_code(code))
    record_event("unit.created", actor=actor, target=unit, after=_unit_snapshot(unit))
    return unit


_UNSET: Any = object()


@action
def update_unit(*, actor: Actor, unit_id: int, name: str = _UNSET, code: str = _UNSET) -> OrgUnit:
    """Rename a unit or change its code (arguments left out keep their value)."""
    require(actor, Perm.MANAGE_UNITS)
    unit = access_unit(actor.user, unit_id)
    before = _unit_snapshot(unit)
    if name is not _UNSET:
        unit.name = _clean_name(name)
        _check_sibling_name(unit.name, unit.parent_id, exclude_pk=unit.pk)
    if code is not _UNSET:
        unit.code = _clean_code(code, exclude_pk=unit.pk)
    unit.save()
    b, a = diff(before, _unit_snapshot(unit))
    if a:
        record_event("unit.updated", actor=actor, target=unit, before=b, after=a)
    return unit


@action
def move_unit(*, actor: Actor, unit_id: int, parent_id: int | None) -> OrgUnit:
    """Put a unit (with its whole subtree) under another parent, or at the top (``None``)."""
    require(actor, Perm.MANAGE_UNITS)
    unit = access_unit(actor.user, unit_id)
    parent = _parent(actor, parent_id)
    if parent is not None and parent.pk in descendant_unit_ids([unit.pk]):
        raise ValidationError({"parent": _("A unit cannot be moved under itself or one of its own sub-units.")})
    if (parent.pk if parent else None) == unit.parent_id:
        return unit
    parents = parent_map()
    if unit_depth(parent.pk if parent else None, parents) + subtree_height(unit.pk, parents) > MAX_UNIT_DEPTH:
        raise ValidationError({"parent": _("Units can be nested at most %(n)d levels deep.") % {"n": MAX_UNIT_DEPTH}})
    _check_sibling_name(unit.name, parent.pk if parent else None, exclude_pk=unit.pk)
    before = _unit_snapshot(unit)
    unit.parent = parent
    unit.save(update_fields=["parent"])
    record_event("unit.moved", actor=actor, target=unit, before={"parent": before["parent"]},
                 after={"parent": parent.name if parent else None})
    return unit


@action
def delete_unit(*, actor: Actor, unit_id: int) -> None:
    """Delete an empty unit: one with sub-units or members is refused (move or remove them first).
    Its unit admin assignments end with it and are listed in the audit event."""
    require(actor, Perm.MANAGE_UNITS)
    unit = access_unit(actor.user, unit_id)
    if unit.children.exists():
        raise ValidationError({"unit": _("This unit has sub-units. Move or delete them first.")})
    if unit.memberships.exists():
        raise ValidationError({"unit": _("This unit still has members. Remove them first.")})
    before = _unit_snapshot(unit)
    before["admins"] = sorted(UnitAdminScope.objects.filter(unit=unit).values_list("user__email", flat=True))
    record_event("unit.deleted", actor=actor, target=unit, before=before)
    UnitAdminScope.objects.filter(unit=unit).delete()
    unit.delete()


# --- Members ----------------------------------------------------------------------

def _unit_for_members(actor: Actor, unit_id) -> OrgUnit:
    """The unit whose members the actor changes: any for a tenant admin, one in their scope
    for a unit admin (else not found); without either permission, refused."""
    if actor.user is None or not (can(actor.user, Perm.MANAGE_UNITS) or can(actor.user, Perm.MANAGE_USERS)):
        raise PermissionDenied(Perm.MANAGE_UNITS, actor=actor)
    return access_unit(actor.user, unit_id)  # a unit admin sees only the units they administer


def _member_user(actor: Actor, user_id, *, for_add: bool):
    """A user the actor may put in or take out of a unit; everyone else is not found."""
    from mamori.accounts.models import User

    user = User.objects.filter(pk=object_id(user_id)).first()
    if user is None or (for_add and not user.is_active):
        raise NotFound
    if not can(actor.user, Perm.MANAGE_UNITS) and not can_manage_user(actor.user, user):
        raise NotFound
    return user


@action
def add_unit_member(*, actor: Actor, unit_id: int, user_id: int) -> UnitMembership:
    unit = _unit_for_members(actor, unit_id)
    user = _member_user(actor, user_id, for_add=True)
    membership, created = UnitMembership.objects.get_or_create(unit=unit, user=user)
    if created:
        record_event("unit.member_added", actor=actor, target=unit, after={"user": user.email})
    return membership


@action
def remove_unit_member(*, actor: Actor, unit_id: int, user_id: int) -> None:
    unit = _unit_for_members(actor, unit_id)
    user = _member_user(actor, user_id, for_add=False)
    membership = UnitMembership.objects.filter(unit=unit, user=user).first()
    if membership is None:
        raise NotFound
    record_event("unit.member_removed", actor=actor, target=unit, before={"user": user.email})
    membership.delete()


@action
def set_unit_members(*, actor: Actor, unit_id: int, user_ids: Iterable[int]) -> list[int]:
    """Make the unit's direct members exactly ``user_ids``; one event lists who was added and
    removed. Returns the member ids. A unit admin cannot add or remove users they do not manage."""
    from mamori.accounts.models import User

    unit = _unit_for_members(actor, unit_id)
    wanted = {object_id(pk) for pk in user_ids}
    if len(wanted) > MAX_MEMBERS_PER_CALL:
        raise ValidationError({"user_ids": _("At most %(n)d users at a time.") % {"n": MAX_MEMBERS_PER_CALL}})
    current = set(UnitMembership.objects.filter(unit=unit).values_list("user_id", flat=True))
    added, removed = wanted - current, current - wanted
    users = {u.pk: u for u in User.objects.filter(pk__in=added | removed)}
    for pk in added:
        user = users.get(pk)
        if user is None or not user.is_active:
            raise NotFound
    if not can(actor.user, Perm.MANAGE_UNITS):
        for pk in sorted(added | removed):
            if not can_manage_user(actor.user, users[pk]):
                if pk in removed:
                    raise ValidationError({"user_ids": _(
                        "You cannot remove %(user)s from this unit; ask a tenant admin.") % {"user": users[pk].email}})
                raise NotFound
    if not added and not removed:
        return sorted(current)
    UnitMembership.objects.filter(unit=unit, user_id__in=removed).delete()
    UnitMembership.objects.bulk_create(
        [UnitMembership(tenant_id=unit.tenant_id, unit=unit, user_id=pk) for pk in sorted(added)])
    record_event("unit.members_changed", actor=actor, target=unit,
                 before={"removed": sorted(users[pk].email for pk in removed)},
                 after={"added": sorted(users[pk].email for pk in added)})
    return sorted(wanted)


# --- Unit admins ------------------------------------------------------------------

def _require_admin_granter(actor: Actor) -> None:
    require(actor, Perm.MANAGE_UNITS)
    require(actor, Perm.GRANT_ADMIN)


@action
def assign_unit_admin(*, actor: Actor, unit_id: int, user_id: int) -> UnitAdminScope:
    """Let a unit admin administer ``unit`` and its descendants. Only users whose role is
    unit admin can be assigned: give the role first (a tenant admin already administers all)."""
    from mamori.accounts.models import User

    _require_admin_granter(actor)
    unit = access_unit(actor.user, unit_id)
    user = User.objects.filter(pk=object_id(user_id)).first()
    if user is None:
        raise ValidationError({"user_id": _("Unknown user.")})
    if not user.is_active:
        raise ValidationError({"user_id": _("This user is suspended.")})
    if user.role == Role.TENANT_ADMIN:
        raise ValidationError({"user_id": _("A tenant admin already administers every unit.")})
    if user.role != Role.UNIT_ADMIN:
        raise ValidationError({"user_id": _(
            "Only users with the unit admin role can administer units. Change the user's role first.")})
    scope, created = UnitAdminScope.objects.get_or_create(unit=unit, user=user)
    if created:
        record_event("unit.admin_assigned", actor=actor, target=unit, after={"user": user.email})
    return scope


@action
def remove_unit_admin(*, actor: Actor, unit_id: int, user_id: int) -> None:
    _require_admin_granter(actor)
    unit = access_unit(actor.user, unit_id)
    scope = UnitAdminScope.objects.filter(unit=unit, user_id=object_id(user_id)).select_related("user").first()
    if scope is None:
        raise NotFound
    record_event("unit.admin_removed", actor=actor, target=unit, before={"user": scope.user.email})
    scope.delete()
