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


# --- Fast path (not part of the copy in the standalone verifier) --------------------------------
# ``json.dumps(payload, **options)`` is ``JSONEncoder(**options).encode(payload)``: it builds an
# encoder object and a C encoder on every call, which cost more than the encoding of a small event.
# ``fast_canonical_bytes`` calls the same C encoder (``json.encoder.c_make_encoder``, with the same
# options), built once, so its output is the same bytes; only the circular-reference check is left
# out (event payloads are plain data, and a cycle still fails, with RecursionError instead of
# ValueError). Without the C accelerator it falls back to ``canonical_bytes``.
# tests/audit/test_canonical_fast.py checks the equality with hypothesis over the value types events use.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
try:
    from json.encoder import c_encode_basestring as _c_str
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has them
    _c_make_encoder = _c_str = None
_C_CANONICAL = (None if _c_make_encoder is None or _c_str is None else
                _c_make_encoder(None, _CANONICAL.default, _c_str, None, ":", ",", True, False, False))


def fast_canonical_text(payload: dict[str, Any]) -> str:
    """``canonical_bytes(payload).decode()``, computed faster (same C encoder, built once)."""
    if _C_CANONICAL is None:  # pragma: no cover
        return _CANONICAL.encode(payload)
    return "".join(_C_CANONICAL(payload, 0))


def fast_canonical_bytes(payload: dict[str, Any]) -> bytes:
    """Byte-identical to ``canonical_bytes(payload)``."""
    return fast_canonical_text(payload).encode("utf-8")


def fast_event_hash(payload: dict[str, Any]) -> str:
    """Equal to ``event_hash(payload)``."""
    return hashlib.sha256(fast_canonical_text(payload).encode("utf-8")).hexdigest()


def fast_format_time(value: datetime) -> str:
    """Equal to ``format_time(value)``; ``isoformat`` is cheaper than ``strftime`` for UTC times."""
    if value.tzinfo is UTC and value.year >= 1000:  # strftime's %Y does not pad years below 1000
        return value.isoformat(timespec="microseconds")[:26] + "Z"
    return format_time(value)
