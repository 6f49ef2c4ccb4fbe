"""Contract termination through the API (CLD.8.1.5): tenant admins only.

``GET /data/termination`` tells whether the contract is being terminated and when the data
will be deleted. ``POST /data/termination`` terminates it: the admin confirms with the
tenant's identifier (``confirm_slug``) and re-authenticates with their password (an API
token alone is not enough for an irreversible step). During the grace period the API is
read-only and only admins' tokens work (``mamori.lifecycle.middleware``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.access.roles import Perm
from mamori.api.auth import actor, api_user, require_permission
from mamori.api.common import AUTH, CREATE, UtcDateTime
from mamori.api.problems import Problem
from mamori.lifecycle import termination as term
from mamori.lifecycle.actions_termination import request_termination

router = Router(tags=["data"])


class TerminationOut(Schema):
    status: str = Field(description="The tenant's status: active or terminating.")
    terminating: bool
    grace_days: int = Field(description="Grace period of a termination requested now, or of the running one.")
    requested_at: UtcDateTime | None = None
    ends_at: UtcDateTime | None = Field(None, description="When the data is deleted irrecoverably.")
    days_left: int | None = None


class TerminationIn(Schema):
    confirm_slug: str = Field(max_length=100, description="The tenant's identifier, typed as confirmation.")
    password: str = Field(max_length=1024, description="The admin's password (re-authentication).")
    reason: str = Field("", max_length=2000)


def _out(tenant) -> dict:
    termination = term.open_termination(tenant)
    return {
        "status": tenant.status, "terminating": termination is not None,
        "grace_days": termination.grace_days if termination else term.grace_days_for(tenant),
        "requested_at": termination.requested_at if termination else None,
        "ends_at": termination.ends_at if termination else None,
        "days_left": term.days_left(termination) if termination else None,
    }


@router.get("/termination", response={200: TerminationOut, **AUTH, 403: Problem})
def get_termination(request):
    """Whether the contract is being terminated, and when the data will be deleted."""
    require_permission(request, Perm.MANAGE_SECURITY, view="api:get_termination")
    return _out(request.tenant)


@router.post("/termination", response={202: TerminationOut, **CREATE})
def terminate_contract(request, payload: TerminationIn):
    """Terminate the contract: the grace period starts; afterwards all data is deleted for good."""
    user = api_user(request)
    require_permission(request, Perm.MANAGE_SECURITY, view="api:terminate_contract")
    if not user.has_usable_password() or not user.check_password(payload.password):
        raise ValidationError({"password": _("The password is not correct.")})
    request_termination(actor=actor(request), confirm_slug=payload.confirm_slug, reason=payload.reason)
    request.tenant.refresh_from_db()
    return Status(202, _out(request.tenant))
