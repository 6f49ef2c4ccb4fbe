"""Random tokens for links and API keys: ≥ 256 bits, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret against its stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
