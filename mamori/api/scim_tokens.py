"""The tenant's SCIM tokens: list (never the secret) and revoke.

Like personal API tokens, SCIM tokens are issued only in the console (after
re-authentication), where the token is shown once: an API token alone must not be
enough to mint a credential that provisions users.
"""

from __future__ import annotations

from ninja import Router, Schema
from ninja.responses import Status

from mamori.access.roles import Perm
from mamori.api.auth import actor, require_permission
from mamori.api.common import DELETE, RESTRICTED_READ, UtcDateTime, checked_id
from mamori.scim.actions import revoke_scim_token
from mamori.scim.queries import scim_tokens

router = Router(tags=["security"])


class ScimTokenOut(Schema):
    id: int
    name: str
    prefix: str
    default_role: str
    created_by: str | None
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None

    @staticmethod
    def resolve_created_by(obj) -> str | None:
        return obj.created_by.email if obj.created_by_id else None


class ScimTokenList(Schema):
    items: list[ScimTokenOut]


@router.get("/scim-tokens", response={200: ScimTokenList, **RESTRICTED_READ})
def list_scim_tokens(request):
    """Every SCIM token of the tenant, newest first, including revoked and expired ones."""
    require_permission(request, Perm.MANAGE_SECURITY, view="api:list_scim_tokens")
    return {"items": list(scim_tokens())}


@router.delete("/scim-tokens/{int:token_id}", response={204: None, **DELETE})
def revoke_scim_token_endpoint(request, token_id: int):
    """Revoke a SCIM token at once (audited as scim.token_revoked). Revoking twice is fine."""
    revoke_scim_token(actor=actor(request), token_id=checked_id(token_id))
    return Status(204, None)
