"""Sign-in history: everyone's (``signins.view``: tenant admins; unit admins for their units' users)
and the caller's own (any role).

Filters are validated by ``mamori.accounts.queries_signins`` (shared with the
console); invalid ones are 422 problem details naming the parameter. Times are
ISO 8601 in, UTC (``Z``) out; pages are keyset-paginated (``next_before``).
"""

from __future__ import annotations

from typing import Annotated

from ninja import Router, Schema
from pydantic import Field

from mamori.accounts import queries_signins as signins
from mamori.api.auth import api_user
from mamori.api.common import AUTH, DEFAULT_LIMIT, RESTRICTED_READ, Id, Limit, Storable, UtcDateTime

router = Router(tags=["signins"])


class SigninOut(Schema):
    id: int
    occurred_at: UtcDateTime
    action: str
    action_label: str
    result: str = Field(description="success, failure, lockout, signout (mfa once MFA exists).")
    method: str = Field(description="password, login_link, invitation, reauthentication… or empty.")
    reason: str = Field(description="For failures: bad_credentials, account_inactive or unknown_account.")
    user_id: int | None = Field(description="The account concerned; null for an unknown address.")
    email: str = Field(description="The account's address, or the address that was tried.")
    ip: str | None
    user_agent: str

    @staticmethod
    def resolve_action_label(obj) -> str:
        return str(obj.label)

    @staticmethod
    def resolve_result(obj) -> str:
        return signins.result_of(obj)

    @staticmethod
    def resolve_method(obj) -> str:
        return signins.signin_method(obj)

    @staticmethod
    def resolve_reason(obj) -> str:
        return signins.signin_reason(obj)

    @staticmethod
    def resolve_user_id(obj) -> int | None:
        return int(obj.target_id) if obj.target_id.isdigit() else None

    @staticmethod
    def resolve_email(obj) -> str:
        return obj.target_label


class SigninPage(Schema):
    items: list[SigninOut]
    next_before: str | None = Field(description="Pass as `before` to get the next (older) page.")


def _text(max_length: int, description: str = ""):
    return Annotated[str, Field(max_length=max_length, description=description), Storable]


Result = _text(20, "success, failure, lockout, signout (mfa once MFA events exist).")
Cursor = _text(120, "Cursor from next_before.")


@router.get("/signins", response={200: SigninPage, **RESTRICTED_READ})
def list_signins(
    request,
    user: _text(254, "An e-mail address (that user) or part of one.") = "",
    user_id: Id | None = None,
    result: Result = "",
    method: _text(40, "password, login_link, invitation, reauthentication…") = "",
    ip: _text(64, "An IP address or a CIDR network, e.g. 192.0.2.0/24.") = "",
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
    before: Cursor = "",
    limit: Limit = DEFAULT_LIMIT,
):
    """Sign-in history of the tenant's users, newest first (needs signins.view).

    Tenant admins see every user and attempts on unknown addresses; unit admins see
    only the users of their units. ``since`` is inclusive, ``until`` exclusive.
    """
    filters = signins.SigninFilters(user=user, user_id=user_id, result=result, method=method, ip=ip,
                                    since=since, until=until)
    page = signins.search_signins(api_user(request), filters, before=before or None, limit=limit)
    return {"items": page.events, "next_before": page.next_cursor}


@router.get("/me/signins", response={200: SigninPage, **AUTH, 422: RESTRICTED_READ[422]})
def list_my_signins(request, result: Result = "", before: Cursor = "", limit: Limit = DEFAULT_LIMIT):
    """Your own sign-in history (any role): sign-ins, sign-outs, failed attempts and lockouts."""
    page = signins.my_signins(api_user(request), result=result, before=before or None, limit=limit)
    return {"items": page.events, "next_before": page.next_cursor}
