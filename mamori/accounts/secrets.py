"""Random tokens for links and API keys: ≥ 256 bits, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret against its stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass(frozen=True)
class ParsedTenantToken:
    """A bearer token of the form ``<kind>_<tenant id>_<key id>_<secret>`` split into its parts."""

    tenant_id: int
    prefix: str
    secret: str


class TenantTokenFormat:
    """Tenant-bound bearer tokens (API ``mmr_``, SCIM ``mmrscim_``): the tenant id tells the
    middleware which tenant to open, the 48-bit key id finds the row, and the 256-bit
    secret is compared in constant time with its stored SHA-256."""

    def __init__(self, kind: str):
        self.kind = kind
        self._pattern = re.compile(
            rf"^{re.escape(kind)}_(?P<tenant>[0-9]{{1,18}})_(?P<prefix>[0-9a-f]{{12}})_(?P<secret>[0-9a-f]{{64}})$")

    def generate(self, tenant_id: int) -> tuple[str, str, str]:
        """Return (full token, key id, secret hash)."""
        prefix = secrets.token_hex(6)
        secret = secrets.token_hex(32)
        return f"{self.kind}_{tenant_id}_{prefix}_{secret}", prefix, hash_secret(secret)

    def parse(self, raw: str) -> ParsedTenantToken | None:
        match = self._pattern.match(raw or "")
        if match is None:
            return None
        return ParsedTenantToken(int(match.group("tenant")), match.group("prefix"), match.group("secret"))
