"""Organizational units: the tree, create/rename/move/delete, members and unit admins.

Tenant admins see and manage every unit; a unit admin sees the units they
administer (and the units below) and may change their members, for users they
manage. Units outside what the caller sees are 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from django.core.exceptions import ValidationError
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.access import actions
from mamori.access.errors import PermissionDenied
from mamori.access.queries import access_unit, unit_admins, unit_members, unit_tree
from mamori.access.roles import Perm, can
from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    CREATE,
    DEFAULT_LIMIT,
    DELETE,
    RESTRICTED_READ,
    Id,
    Limit,
    Offset,
    Storable,
    checked_id,
    page,
)
from mamori.api.problems import NON_FIELD, Problem

router = Router(tags=["units"])

Name = Annotated[str, Field(min_length=1, max_length=100), Storable]
Code = Annotated[str, Field(max_length=64, description="Letters A–Z, digits and . _ - ; empty for none."),
                 Storable]
READ_UNIT = {**RESTRICTED_READ, 404: Problem}


class UnitOut(Schema):
    id: int
    name: str
    code: str
    parent_id: int | None
    path: str = Field(description="Names from the top, like “Acme / Sales / Tokyo”.")
    depth: int = Field(description="0 for the top units the caller sees.")
    members: int = Field(description="Direct members.")
    members_total: int = Field(description="Distinct members of the unit and all its sub-units.")


class UnitPage(Schema):
    items: list[UnitOut]
    next_offset: int | None


class UnitIn(Schema):
    name: Name
    parent_id: Id | None = Field(None, description="Parent unit; null or left out for a top-level unit.")
    code: Code = ""


class UnitPatch(Schema):
    """Fields left out (or null) keep their value. Use `/move` to change the parent."""

    name: Name | None = None
    code: Code | None = None


class MoveIn(Schema):
    parent_id: Id | None = Field(None, description="New parent unit; null or left out for the top level.")


class UserRef(Schema):
    id: int
    email: str
    name: str
    role: str


class UserPage(Schema):
    items: list[UserRef]
    next_offset: int | None


class UserIdIn(Schema):
    user_id: Id


class MembersIn(Schema):
    user_ids: Annotated[list[Id], Field(max_length=actions.MAX_MEMBERS_PER_CALL)]


_FIELD_NAMES = {"parent": "parent_id", "unit": NON_FIELD}


@contextmanager
def _api_field_names() -> Iterator[None]:
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError({_FIELD_NAMES.get(field, field): errors
                               for field, errors in exc.error_dict.items()}) from None


def _require_units_access(request) -> None:
    user = api_user(request)
    if not (can(user, Perm.MANAGE_UNITS) or can(user, Perm.MANAGE_USERS)):
        raise PermissionDenied(Perm.MANAGE_UNITS)


def _out(request, unit_id: int) -> dict:
    node = next(n for n in unit_tree(api_user(request)) if n.unit.pk == unit_id)
    return _node(node)


def _node(node) -> dict:
    unit = node.unit
    return {"id": unit.pk, "name": unit.name, "code": unit.code, "parent_id": unit.parent_id, "path": node.path,
            "depth": node.depth, "members": node.members, "members_total": node.members_total}


@router.get("", response={200: UnitPage, **RESTRICTED_READ})
def list_units(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    """The units the caller sees, depth first (each parent before its sub-units)."""
    _require_units_access(request)
    return page([_node(n) for n in unit_tree(api_user(request))], limit=limit, offset=offset)


@router.post("", response={201: UnitOut, **CREATE})
def create_unit(request, payload: UnitIn):
    with _api_field_names():
        unit = actions.create_unit(actor=actor(request), name=payload.name, parent_id=payload.parent_id,
                                   code=payload.code)
    return Status(201, _out(request, unit.pk))


@router.get("/{int:unit_id}", response={200: UnitOut, **READ_UNIT})
def get_unit(request, unit_id: int):
    _require_units_access(request)
    unit = access_unit(api_user(request), checked_id(unit_id))
    return _out(request, unit.pk)


@router.patch("/{int:unit_id}", response={200: UnitOut, **CHANGE})
def update_unit(request, unit_id: int, payload: UnitPatch):
    with _api_field_names():
        unit = actions.update_unit(actor=actor(request), unit_id=checked_id(unit_id),
                                   **payload.model_dump(exclude_none=True))
    return _out(request, unit.pk)


@router.post("/{int:unit_id}/move", response={200: UnitOut, **CHANGE})
def move_unit(request, unit_id: int, payload: MoveIn):
    """Put the unit, with its sub-units and members, under another parent (or at the top)."""
    with _api_field_names():
        unit = actions.move_unit(actor=actor(request), unit_id=checked_id(unit_id), parent_id=payload.parent_id)
    return _out(request, unit.pk)


@router.delete("/{int:unit_id}", response={204: None, **DELETE})
def delete_unit(request, unit_id: int):
    """Only an empty unit (no sub-units, no members) can be deleted."""
    with _api_field_names():
        actions.delete_unit(actor=actor(request), unit_id=checked_id(unit_id))
    return Status(204, None)


@router.get("/{int:unit_id}/members", response={200: UserPage, **READ_UNIT})
def list_unit_members(request, unit_id: int, include_descendants: bool = False,
                      limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    _require_units_access(request)
    users = unit_members(api_user(request), checked_id(unit_id), include_descendants=include_descendants)
    return page(users, limit=limit, offset=offset)


@router.put("/{int:unit_id}/members", response={200: UserPage, **CHANGE})
def set_unit_members(request, unit_id: int, payload: MembersIn):
    """Make the unit's direct members exactly these users."""
    actions.set_unit_members(actor=actor(request), unit_id=checked_id(unit_id), user_ids=payload.user_ids)
    users = unit_members(api_user(request), unit_id)
    return page(users, limit=actions.MAX_MEMBERS_PER_CALL, offset=0)


@router.post("/{int:unit_id}/members", response={204: None, **CHANGE})
def add_unit_member(request, unit_id: int, payload: UserIdIn):
    actions.add_unit_member(actor=actor(request), unit_id=checked_id(unit_id), user_id=payload.user_id)
    return Status(204, None)


@router.delete("/{int:unit_id}/members/{int:user_id}", response={204: None, **DELETE})
def remove_unit_member(request, unit_id: int, user_id: int):
    actions.remove_unit_member(actor=actor(request), unit_id=checked_id(unit_id), user_id=checked_id(user_id))
    return Status(204, None)


@router.get("/{int:unit_id}/admins", response={200: list[UserRef], **READ_UNIT})
def list_unit_admins(request, unit_id: int):
    """Unit admins assigned to this unit itself (admins of a parent unit reach it too)."""
    _require_units_access(request)
    return list(unit_admins(api_user(request), checked_id(unit_id)))


@router.post("/{int:unit_id}/admins", response={204: None, **CHANGE})
def assign_unit_admin(request, unit_id: int, payload: UserIdIn):
    """The user must have the unit admin role; tenant admins only."""
    actions.assign_unit_admin(actor=actor(request), unit_id=checked_id(unit_id), user_id=payload.user_id)
    return Status(204, None)


@router.delete("/{int:unit_id}/admins/{int:user_id}", response={204: None, **DELETE})
def remove_unit_admin(request, unit_id: int, user_id: int):
    actions.remove_unit_admin(actor=actor(request), unit_id=checked_id(unit_id), user_id=checked_id(user_id))
    return Status(204, None)
