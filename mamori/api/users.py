"""Users of the token's tenant (read only; user management stays in the console)."""

from __future__ import annotations

from ninja import Router, Schema

from mamori.api.auth import api_user
from mamori.api.common import DEFAULT_LIMIT, RESTRICTED_READ, Limit, Offset, UtcDateTime, page
from mamori.api.queries import tenant_users

router = Router(tags=["users"])


class UserRef(Schema):
    id: int
    email: str
    name: str
    role: str


class UserOut(UserRef):
    is_active: bool
    language: str
    date_joined: UtcDateTime
    last_login: UtcDateTime | None


class UserPage(Schema):
    items: list[UserOut]
    next_offset: int | None


@router.get("", response={200: UserPage, **RESTRICTED_READ})
def list_users(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    """Every user of the tenant (needs the users.view permission)."""
    return page(tenant_users(api_user(request)), limit=limit, offset=offset)
