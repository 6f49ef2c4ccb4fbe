"""Workspaces (projects) and their members."""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.access.errors import NotFound
from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    CREATE,
    DEFAULT_LIMIT,
    DELETE,
    READ,
    READ_ONE,
    Id,
    Limit,
    Offset,
    Storable,
    UtcDateTime,
    checked_id,
    page,
)
from mamori.api.queries import workspace_members
from mamori.api.users import UserRef
from mamori.records import actions
from mamori.records.queries import access_workspace, visible_workspaces

router = Router(tags=["workspaces"])

Name = Annotated[str, Field(min_length=1, max_length=200), Storable]
Description = Annotated[str, Field(max_length=5000), Storable]


class WorkspaceOut(Schema):
    id: int
    name: str
    description: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class WorkspacePage(Schema):
    items: list[WorkspaceOut]
    next_offset: int | None


class WorkspaceIn(Schema):
    name: Name
    description: Description = ""


class WorkspacePatch(Schema):
    """Fields left out (or null) keep their value."""

    name: Name | None = None
    description: Description | None = None


class MemberIn(Schema):
    user_id: Id


class MemberOut(Schema):
    user: UserRef
    added_at: UtcDateTime


class MemberPage(Schema):
    items: list[MemberOut]
    next_offset: int | None


@router.get("", response={200: WorkspacePage, **READ})
def list_workspaces(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    """Workspaces the token's user can see (members only, unless they manage all workspaces)."""
    return page(visible_workspaces(api_user(request)), limit=limit, offset=offset)


@router.post("", response={201: WorkspaceOut, **CREATE})
def create_workspace(request, payload: WorkspaceIn):
    workspace = actions.create_workspace(actor=actor(request), name=payload.name,
                                         description=payload.description)
    return Status(201, workspace)


@router.get("/{int:workspace_id}", response={200: WorkspaceOut, **READ_ONE})
def get_workspace(request, workspace_id: int):
    return access_workspace(api_user(request), checked_id(workspace_id))


@router.patch("/{int:workspace_id}", response={200: WorkspaceOut, **CHANGE})
def update_workspace(request, workspace_id: int, payload: WorkspacePatch):
    current = access_workspace(api_user(request), checked_id(workspace_id))
    data = payload.model_dump(exclude_none=True)
    return actions.update_workspace(
        actor=actor(request), workspace_id=current.pk,
        name=data.get("name", current.name), description=data.get("description", current.description),
    )


@router.delete("/{int:workspace_id}", response={204: None, **DELETE})
def delete_workspace(request, workspace_id: int):
    """Delete an empty workspace (422 while it still holds records)."""
    actions.delete_workspace(actor=actor(request), workspace_id=checked_id(workspace_id))
    return Status(204, None)


@router.get("/{int:workspace_id}/members", response={200: MemberPage, **READ_ONE})
def list_workspace_members(request, workspace_id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    members = workspace_members(api_user(request), checked_id(workspace_id))
    return page(members, limit=limit, offset=offset)


@router.post("/{int:workspace_id}/members", response={201: MemberOut, **CHANGE})
def add_workspace_member(request, workspace_id: int, payload: MemberIn):
    workspace = access_workspace(api_user(request), checked_id(workspace_id))
    try:
        member = actions.add_workspace_member(actor=actor(request), workspace_id=workspace.pk,
                                              user_id=payload.user_id)
    except NotFound:
        # The workspace was found above, so it is the user that is unknown (or inactive).
        raise ValidationError({"user_id": _("Unknown user.")})
    return Status(201, member)


@router.delete("/{int:workspace_id}/members/{int:user_id}", response={204: None, **DELETE})
def remove_workspace_member(request, workspace_id: int, user_id: int):
    actions.remove_workspace_member(actor=actor(request), workspace_id=checked_id(workspace_id),
                                    user_id=checked_id(user_id))
    return Status(204, None)
