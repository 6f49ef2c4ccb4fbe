"""Personal API tokens: ``mmr_<tenant id>_<key id>_<secret>``.

The tenant id in the token tells the middleware which tenant to open, so the API
needs no tenant in its URLs; the key id finds the row; the secret is compared in
constant time with its stored SHA-256. A token of tenant A can never resolve in
tenant B: the lookup runs inside tenant A's scope (and RLS on PostgreSQL).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from mamori.accounts.models import ApiToken
from mamori.accounts.secrets import hash_secret, secret_matches

_TOKEN = re.compile(r"^mmr_(?P<tenant>[0-9]{1,18})_(?P<prefix>[0-9a-f]{12})_(?P<secret>[0-9a-f]{64})$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ParsedToken:
    tenant_id: int
    prefix: str
    secret: str


def generate_token(tenant_id: int) -> tuple[str, str, str]:
    """Return (full token, key id, secret hash)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_hex(32)
    return f"mmr_{tenant_id}_{prefix}_{secret}", prefix, hash_secret(secret)


def parse_api_token(raw: str) -> ParsedToken | None:
    match = _TOKEN.match(raw or "")
    if match is None:
        return None
    return ParsedToken(int(match.group("tenant")), match.group("prefix"), match.group("secret"))


def verify_api_token(parsed: ParsedToken) -> ApiToken | None:
    """The usable token row (with user and tenant), or None.

    Called with the token's claimed tenant already applied to the database;
    the explicit tenant filter keeps the ORM layer equally strict on SQLite.
    """
    # The key id is unique per tenant: [:1] needs no ORDER BY.
    rows = list(
        ApiToken.objects_across_tenants.select_related("user", "tenant")
        .filter(prefix=parsed.prefix, tenant_id=parsed.tenant_id)[:1]
    )
    token = rows[0] if rows else None
    if token is None:
        # Same work as a hit, so timing does not tell whether the key id exists.
        secret_matches(parsed.secret, "0" * 64)
        return None
    if not secret_matches(parsed.secret, token.secret_hash):
        return None
    if not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects_across_tenants.filter(pk=token.pk, tenant_id=parsed.tenant_id).update(last_used_at=now)
    return token
