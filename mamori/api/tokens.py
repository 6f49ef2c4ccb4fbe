"""The caller's own API tokens: list (never the secret) and revoke.

Tokens are created in the console or with ``mamori token create`` only, where
the secret is shown once.
"""

from __future__ import annotations

from ninja import Router, Schema
from ninja.responses import Status

from mamori.accounts.actions import revoke_api_token
from mamori.api.auth import actor, api_user
from mamori.api.common import AUTH, DELETE, UtcDateTime, checked_id
from mamori.api.queries import own_api_tokens

router = Router(tags=["tokens"])


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None


class TokenList(Schema):
    items: list[TokenOut]


@router.get("", response={200: TokenList, **AUTH})
def list_tokens(request):
    """Your own tokens, newest first, including revoked and expired ones."""
    return {"items": list(own_api_tokens(api_user(request)))}


@router.delete("/{int:token_id}", response={204: None, **DELETE})
def revoke_token(request, token_id: int):
    """Revoke one of your tokens (admins who manage users may revoke anyone's). Revoking twice is fine."""
    revoke_api_token(actor=actor(request), token_id=checked_id(token_id))
    return Status(204, None)
