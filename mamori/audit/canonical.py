"""The canonical form of an audit event, shared by the writer, `mamori audit verify`,
the evidence export and its standalone verifier.

An event's hash is ``sha256(canonical_bytes(payload))`` where ``payload`` holds
every stored field of the event plus ``prev_hash`` (the previous event's hash in
the same chain, or ``GENESIS_HASH`` for the first). Canonical bytes are JSON
with sorted keys, no insignificant white space, UTF-8, and times as ISO 8601 UTC
with microseconds and a ``Z``. Changing any field, deleting, inserting or
reordering events breaks the chain at the first affected sequence number.

Keep this module free of Django imports: the standalone verifier copies it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = (
    "chain", "seq", "occurred_at", "action", "actor_type", "actor_id", "actor_label",
    "target_type", "target_id", "target_label", "before", "after", "ip", "user_agent",
    "request_id", "prev_hash",
)


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


def chain_name(tenant_id: int | None) -> str:
    """``tenant:<id>`` for a tenant's log, ``provider`` for the provider log."""
    return "provider" if tenant_id is None else f"tenant:{tenant_id}"
