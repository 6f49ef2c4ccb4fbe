"""Users of the token's tenant: list, read, invite or create, change, suspend,
reactivate, end sessions, delete, and re-send or cancel an invitation.

The same actions as the console (``mamori.accounts.actions``): tenant admins act
on everyone, unit admins on the users of their units (others are 404), and every
refusal is in the operation log.
"""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.accounts import actions, queries
from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    CREATE,
    DEFAULT_LIMIT,
    DELETE,
    READ_ONE,
    RESTRICTED_READ,
    Id,
    Limit,
    Offset,
    Storable,
    UtcDateTime,
    checked_id,
    page,
)

router = Router(tags=["users"])

RoleName = Literal["tenant_admin", "unit_admin", "editor", "reviewer", "viewer"]
Language = Literal["", "ja", "en"]
Status_ = Literal["invited", "active", "suspended"]
Name = Annotated[str, Field(max_length=150), Storable]
Email = Annotated[str, Field(min_length=1, max_length=254), Storable]
Password = Annotated[str, Field(min_length=1, max_length=4096), Storable]
UnitIds = Annotated[list[Id], Field(max_length=1000)]


class UserRef(Schema):
    id: int
    email: str
    name: str
    role: str


class UserOut(UserRef):
    is_active: bool
    status: Status_
    language: str
    unit_ids: list[int]
    date_joined: UtcDateTime
    last_login: UtcDateTime | None

    @staticmethod
    def resolve_status(obj) -> str:
        return queries.status_of(obj)

    @staticmethod
    def resolve_unit_ids(obj) -> list[int]:
        return sorted(m.unit_id for m in obj.unit_memberships.all())


class UserPage(Schema):
    items: list[UserOut]
    next_offset: int | None


class UserIn(Schema):
    """Without ``password`` the user is invited by e-mail (a one-time link); with one the
    user is created with that initial password and must change it at first sign-in."""

    email: Email
    name: Name = ""
    role: RoleName = "viewer"
    unit_ids: UnitIds = []
    language: Language = ""
    password: Password | None = None


class UserPatch(Schema):
    """Fields left out (or null) keep their value. ``unit_ids`` replaces the units."""

    name: Name | None = None
    role: RoleName | None = None
    unit_ids: UnitIds | None = None
    language: Language | None = None


class InvitationOut(Schema):
    user_id: int
    expires_at: UtcDateTime


def _one(request, user_id: int):
    return queries.access_user(api_user(request), user_id, actor=actor(request))


@router.get("", response={200: UserPage, **RESTRICTED_READ})
def list_users(request, status: Status_ | None = None, role: RoleName | None = None, unit: Id | None = None,
               limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    """The users the caller administers or may view (needs users.view); unit admins see
    only the users of their units."""
    users = queries.user_list(api_user(request), status=status or "", role=role or "", unit=unit)
    return page(users, limit=limit, offset=offset)


@router.get("/{int:user_id}", response={200: UserOut, **READ_ONE, **RESTRICTED_READ})
def get_user(request, user_id: int):
    return _one(request, checked_id(user_id))


@router.post("", response={201: UserOut, **CREATE})
def create_user(request, payload: UserIn):
    """Invite (no password) or create with an initial password."""
    common = {"actor": actor(request), "email": payload.email, "name": payload.name, "role": payload.role,
              "unit_ids": payload.unit_ids, "language": payload.language}
    if payload.password is None:
        user = actions.invite_user(**common).user
    else:
        user = actions.create_user(password=payload.password, **common)
    return Status(201, user)


@router.patch("/{int:user_id}", response={200: UserOut, **CHANGE})
def update_user(request, user_id: int, payload: UserPatch):
    """Change name, role, units or language. A role change ends the user's sessions."""
    return actions.update_user(actor=actor(request), user=checked_id(user_id),
                               **payload.model_dump(exclude_none=True))


@router.post("/{int:user_id}/suspend", response={200: UserOut, **CHANGE})
def suspend_user(request, user_id: int):
    """Block sign-in; sessions end and API tokens are revoked at once."""
    return actions.suspend_user(actor=actor(request), user=checked_id(user_id))


@router.post("/{int:user_id}/reactivate", response={200: UserOut, **CHANGE})
def reactivate_user(request, user_id: int):
    return actions.reactivate_user(actor=actor(request), user=checked_id(user_id))


@router.post("/{int:user_id}/end-sessions", response={204: None, **CHANGE})
def end_user_sessions(request, user_id: int):
    """Sign the user out of every browser session (API tokens are not sessions)."""
    actions.end_sessions(actor=actor(request), user=checked_id(user_id))
    return Status(204, None)


@router.delete("/{int:user_id}", response={204: None, **DELETE})
def delete_user(request, user_id: int):
    """Delete the user; their sessions and tokens end with the account. The last tenant admin stays."""
    actions.delete_user(actor=actor(request), user=checked_id(user_id))
    return Status(204, None)


@router.post("/{int:user_id}/invitation/resend", response={200: InvitationOut, **CHANGE})
def resend_invitation(request, user_id: int):
    """A new invitation link by e-mail; earlier links stop working."""
    invitation = actions.resend_invitation(actor=actor(request), user=checked_id(user_id))
    return {"user_id": invitation.user_id, "expires_at": invitation.expires_at}


@router.delete("/{int:user_id}/invitation", response={204: None, **DELETE})
def cancel_invitation(request, user_id: int):
    """Revoke the invitation and remove the never-registered user."""
    actions.cancel_invitation(actor=actor(request), user=checked_id(user_id))
    return Status(204, None)
