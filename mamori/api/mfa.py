"""MFA (ISMS 9.2.3): the tenant's MFA policy and the admin reset of a user's MFA.

``GET/PUT /security/mfa-policy`` — who must use a second factor (tenant admins only).
``POST /users/{id}/reset-mfa`` — remove every MFA method of a user (lost phone or key);
same rules as the console's button: users.manage, inside the admin's scope, only tenant
admins act on admins, never on oneself.
"""

from __future__ import annotations

from typing import Literal

from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.access.roles import Perm
from mamori.api.auth import actor, require_permission
from mamori.api.common import CHANGE, RESTRICTED_READ, checked_id
from mamori.multifactor.actions import reset_mfa, update_mfa_policy
from mamori.multifactor.policy import requirement_for_tenant

router = Router(tags=["security"])
users_router = Router(tags=["users"])

Requirement = Literal["optional", "admins", "everyone"]


class MfaPolicyIn(Schema):
    requirement: Requirement = Field(
        description="optional (each user decides), admins (tenant admins and unit admins must use MFA) "
                    "or everyone. Users it covers who have no second factor must set one up at their "
                    "next sign-in.")


class MfaPolicyOut(MfaPolicyIn):
    pass


@router.get("/mfa-policy", response={200: MfaPolicyOut, **RESTRICTED_READ})
def get_mfa_policy(request):
    """Who must use two-factor authentication in this tenant."""
    require_permission(request, Perm.MANAGE_SECURITY, view="api:get_mfa_policy")
    return {"requirement": requirement_for_tenant(request.tenant)}


@router.put("/mfa-policy", response={200: MfaPolicyOut, **CHANGE})
def put_mfa_policy(request, payload: MfaPolicyIn):
    """Set who must use two-factor authentication (audited as security.mfa_policy_updated)."""
    return {"requirement": update_mfa_policy(actor=actor(request), requirement=payload.requirement)}


@users_router.post("/{int:user_id}/reset-mfa", response={204: None, **CHANGE})
def reset_user_mfa(request, user_id: int):
    """Remove every MFA method of the user and end their sessions (audited as mfa.reset)."""
    reset_mfa(actor=actor(request), user=checked_id(user_id))
    return Status(204, None)
