"""Security settings: the tenant's session policy (idle timeout, maximum session length). Tenant admins only.

``GET`` returns the limits in force (the NIST SP 800-63B AAL2 defaults when none were saved)
with, for each limit longer than NIST's AAL2 recommendation, what it says. ``PUT`` replaces
both limits; they are checked by the same action as the console's form (field-level errors
in the 422 problem's ``errors``).
"""

from __future__ import annotations

from typing import Annotated

from ninja import Router, Schema
from pydantic import Field

from mamori.access.roles import Perm
from mamori.accounts.actions_sessions import end_all_sessions, update_session_policy
from mamori.accounts.sessions import SessionLimits, nist_notes, session_policy_for_tenant
from mamori.api.auth import actor, require_permission
from mamori.api.common import CHANGE, RESTRICTED_READ

router = Router(tags=["security"])

# Ranges are checked by the action (translated, field-level messages).
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class SessionPolicyFields(Schema):
    idle_timeout_minutes: Count = Field(description="1–1440; a session unused this long is signed out. "
                                                    "NIST SP 800-63B AAL2: 30 (the default).")
    absolute_lifetime_hours: Count = Field(description="1–720; every session ends this long after sign-in. "
                                                       "NIST SP 800-63B AAL2: 12 (the default).")


class Note(Schema):
    field: str
    note: str


class SessionPolicyOut(SessionPolicyFields):
    nist_notes: list[Note] = Field(description="Limits longer than NIST SP 800-63B's AAL2 recommendation.")


def _out(limits: SessionLimits) -> dict:
    return {**limits.as_dict(), "nist_notes": [{"field": f, "note": n} for f, n in nist_notes(limits).items()]}


def _require_admin(request) -> None:
    require_permission(request, Perm.MANAGE_SECURITY, view="api:get_session_policy")


@router.get("/session-policy", response={200: SessionPolicyOut, **RESTRICTED_READ})
def get_session_policy(request):
    """The tenant's session policy (the recommended defaults when none was saved)."""
    _require_admin(request)
    return _out(session_policy_for_tenant(request.tenant))


@router.put("/session-policy", response={200: SessionPolicyOut, **CHANGE})
def put_session_policy(request, payload: SessionPolicyFields):
    """Replace the session policy. Both fields are required; 422 lists each invalid limit."""
    return _out(update_session_policy(actor=actor(request), **payload.model_dump()))


class SessionsEnded(Schema):
    users: int = Field(description="Users of the tenant whose sessions were ended.")
    sessions_ended: int = Field(description="Console sessions that were open and are now ended.")


@router.post("/sessions/end-all", response={200: SessionsEnded, **CHANGE})
def end_every_session(request):
    """Sign out every user of the tenant: every console session ends at its next request
    (a suspected compromise). API and SCIM tokens are not sessions and stay valid. Tenant admins only."""
    return end_all_sessions(actor=actor(request))
