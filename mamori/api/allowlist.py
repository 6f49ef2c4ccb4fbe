"""Security settings: the tenant's IP allowlist (ISMS 9.2.3). Tenant admins only.

``GET`` returns the switch, the entries, the caller's own address as the server sees it
(and whether the list includes it) and any active provider override. ``PUT`` replaces the
whole list: malformed entries give a 422 with one error per entry (``entries.<i>.cidr``)
and nothing is saved; an enforced list that would not include the caller's own address
needs ``"confirm_lockout": true`` (else 422 on ``confirm_lockout``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Router, Schema
from pydantic import Field, StrictBool

from mamori.access.actions_allowlist import save_allowlist
from mamori.access.allowlist import MAX_COMMENT, MAX_ENTRIES, allowlist_for
from mamori.access.roles import Perm
from mamori.api.auth import actor, require_permission
from mamori.api.common import CHANGE, RESTRICTED_READ, Storable
from mamori.core.net import client_ip

router = Router(tags=["security"])


class EntryIn(Schema):
    # Length bounds here only keep absurd input away; the action checks the address itself.
    cidr: Annotated[str, Field(max_length=100), Storable] = Field(
        description="IPv4 or IPv6 address or network in CIDR notation (203.0.113.0/24, 2001:db8::/32).")
    comment: Annotated[str, Field(max_length=MAX_COMMENT), Storable] = ""


class EntryOut(Schema):
    cidr: str = Field(description="Normalised network.")
    comment: str
    created_at: datetime


class OverrideOut(Schema):
    staff: str
    reason: str
    starts_at: datetime
    expires_at: datetime


class AllowlistIn(Schema):
    enabled: StrictBool = Field(description="Enforce the list (needs at least one entry).")
    entries: list[EntryIn] = Field(max_length=MAX_ENTRIES)
    confirm_lockout: StrictBool = Field(False, description="Required when the enforced list would not include "
                                                     "the caller's own address.")


class AllowlistOut(Schema):
    enabled: bool
    entries: list[EntryOut]
    your_ip: str | None = Field(description="Your address as the server sees it.")
    your_ip_listed: bool
    override: OverrideOut | None = Field(description="An active provider emergency override, if any.")
    updated_at: datetime | None


def _out(request) -> dict:
    view = allowlist_for(request, request.tenant)
    override = view.override
    return {
        "enabled": view.enabled,
        "entries": [{"cidr": e.cidr, "comment": e.comment, "created_at": e.created_at} for e in view.entries],
        "your_ip": view.client_ip,
        "your_ip_listed": view.client_listed,
        "override": ({"staff": override.staff_email, "reason": override.reason, "starts_at": override.starts_at,
                      "expires_at": override.expires_at} if override else None),
        "updated_at": view.updated_at,
    }


def _require_admin(request) -> None:
    require_permission(request, Perm.MANAGE_SECURITY, view="api:get_ip_allowlist")


@router.get("/ip-allowlist", response={200: AllowlistOut, **RESTRICTED_READ})
def get_ip_allowlist(request):
    """The tenant's IP allowlist, your own address and any active provider override."""
    _require_admin(request)
    return _out(request)


@router.put("/ip-allowlist", response={200: AllowlistOut, **CHANGE})
def put_ip_allowlist(request, payload: AllowlistIn):
    """Replace the IP allowlist. 422 lists each malformed entry; nothing is saved then."""
    save_allowlist(actor=actor(request), enabled=payload.enabled,
                   entries=[(e.cidr, e.comment) for e in payload.entries],
                   current_ip=client_ip(request), confirm_lockout=payload.confirm_lockout)
    return _out(request)
