"""The hash chain over audit events: sealing at insert and verification.

Every chain (``tenant:<id>`` for a tenant's log, ``provider`` for the provider
log) numbers its events 1, 2, 3… and each event's ``hash`` is
``sha256(canonical_bytes(payload))`` over every stored field plus the previous
event's hash (``mamori.audit.canonical``). The writer seals an event when it
inserts it (``seal``), under a lock on the chain's ``ChainHead`` row; see
docs/decisions/0007-audit-chain-sealing.md for why the writer and not a task.

``payload_for`` and ``verify_chain`` are pure: the evidence export and the
standalone verifier reuse them (``verify_chain`` also accepts plain dicts).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mamori.audit.canonical import CHAIN_FIELDS, GENESIS_HASH, chain_name, event_hash, format_time

_PLAIN_FIELDS = ("action", "actor_type", "actor_id", "actor_label", "target_type", "target_id",
                 "target_label", "user_agent", "request_id")


def normalise_json(value: Any) -> Any:
    """The value as the JSON column gives it back (tuples → lists, keys → strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, allow_nan=False))


def normalise_ip(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return str(ipaddress.ip_address(str(value)))


def event_chain(event: Any) -> str:
    """``tenant:<id>`` for an ``AuditEvent``, ``provider`` for a ``ProviderEvent``."""
    return chain_name(getattr(event, "tenant_id", None))


def payload_for(event: Any) -> dict[str, Any]:
    """The dict the event's hash covers (``CHAIN_FIELDS``), from a model instance."""
    payload: dict[str, Any] = {name: getattr(event, name) for name in _PLAIN_FIELDS}
    payload["chain"] = event_chain(event)
    payload["seq"] = event.seq
    payload["occurred_at"] = format_time(event.occurred_at)
    payload["before"] = event.before
    payload["after"] = event.after
    payload["ip"] = str(event.ip) if event.ip not in (None, "") else None
    payload["prev_hash"] = event.prev_hash
    return payload


def _payload_and_hash(event: Any) -> tuple[dict[str, Any], str]:
    if isinstance(event, Mapping):
        return {name: event.get(name) for name in CHAIN_FIELDS}, event.get("hash") or ""
    return payload_for(event), event.hash


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    first_bad_seq: int | None
    reason: str
    last_seq: int
    last_hash: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_chain(events: Iterable[Any], *, start_seq: int = 1, start_hash: str = GENESIS_HASH,
                 chain: str | None = None, on_event=None) -> VerifyResult:
    """Recompute one chain from ``events`` (in sequence order, model instances or dicts).

    ``start_seq`` is the first expected sequence number and ``start_hash`` the
    hash of the event before it (after a retention purge: the checkpoint's).
    Stops at the first event that is missing, out of order, re-linked or
    altered and returns its sequence number. ``chain`` (optional) requires every
    event to belong to that chain. ``on_event(seq, hash)`` is called for every
    good event (used to compare digests while streaming). Constant memory.
    """
    expected = start_seq
    prev_hash = start_hash
    count = 0
    for event in events:
        payload, stored_hash = _payload_and_hash(event)
        seq = payload["seq"]
        if seq is None:
            return VerifyResult(False, expected, "unsealed event (no sequence number)", expected - 1, prev_hash, count)
        if chain is not None and payload["chain"] != chain:
            return VerifyResult(False, seq, f"event belongs to chain {payload['chain']}", expected - 1, prev_hash, count)
        if seq < expected:
            return VerifyResult(False, seq, "duplicate or out-of-order sequence number", expected - 1, prev_hash, count)
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
            return VerifyResult(False, expected, f"event(s) {missing} missing (deleted)", expected - 1, prev_hash, count)
        if payload["prev_hash"] != prev_hash:
            return VerifyResult(False, seq, "prev_hash does not match the previous event's hash "
                                "(inserted, removed or reordered event)", expected - 1, prev_hash, count)
        if event_hash(payload) != stored_hash:
            return VerifyResult(False, seq, "hash mismatch (event content changed)", expected - 1, prev_hash, count)
        count += 1
        prev_hash = stored_hash
        if on_event is not None:
            on_event(seq, stored_hash)
        expected += 1
    return VerifyResult(True, None, "", expected - 1, prev_hash, count)


# --- Sealing (Django side) ------------------------------------------------------------------


def _lock_head(connection, chain: str, count: int = 1) -> tuple[int, str]:
    """Take the next ``count`` sequence numbers of ``chain``; lock its head row until commit.

    One statement on both databases (``INSERT … ON CONFLICT DO UPDATE … RETURNING``):
    it creates the head for a new chain or adds ``count`` to ``last_seq``, and
    returns the first number taken with the previous hash. On PostgreSQL the updated row stays locked until the
    transaction ends, so concurrent writers of the same chain queue here; on
    SQLite every write transaction holds the database lock (BEGIN IMMEDIATE).
    """
    from mamori.audit.models import ChainHead

    table = connection.ops.quote_name(ChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, last_seq, last_hash) VALUES (%s, %s, '') "  # noqa: S608
            f"ON CONFLICT (name) DO UPDATE SET last_seq = {table}.last_seq + %s "
            "RETURNING last_seq, last_hash",
            [chain, count, count],
        )
        seq, last_hash = cursor.fetchone()
    return int(seq) - count + 1, last_hash or GENESIS_HASH


def _set_head_hash(connection, chain: str, seq: int, new_hash: str) -> None:
    from mamori.audit.models import ChainHead

    table = connection.ops.quote_name(ChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_hash = %s WHERE name = %s AND last_seq = %s",  # noqa: S608
                       [new_hash, chain, seq])


_INSERT_SQL: dict[tuple, tuple[str, list]] = {}


def _insert_statement(model, connection, rows: int = 1) -> tuple[str, list]:
    """``INSERT … VALUES (…)[, (…)…] RETURNING id`` for ``model`` (built once per size)."""
    key = (model, connection.vendor, rows)
    cached = _INSERT_SQL.get(key)
    if cached is None:
        from django.db import models

        qn = connection.ops.quote_name
        pg = connection.vendor == "postgresql"
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        holders = []
        for f in fields:
            if pg and isinstance(f, models.JSONField):
                holders.append("%s::jsonb")
            elif pg and isinstance(f, models.GenericIPAddressField):
                holders.append("%s::inet")
            else:
                holders.append("%s")
        row = f"({', '.join(holders)})"
        # Only quoted model metadata and placeholders: no value is interpolated.
        sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
               f"VALUES {', '.join([row] * rows)} RETURNING {qn(model._meta.pk.column)}")
        cached = _INSERT_SQL[key] = (sql, fields)
    return cached


def _insert(connection, events: list, head: tuple[str, int, str] | None = None) -> None:
    """Insert ``events`` (one model) with one prepared statement; the ORM's save costs ~4× more.

    On PostgreSQL, ``head`` (chain, seq, hash) is stored in the same statement (a
    data-modifying CTE), saving a round trip per event.
    """
    from django.db import models

    sql, fields = _insert_statement(type(events[0]), connection, len(events))
    values = []
    for event in events:
        for f in fields:
            value = getattr(event, f.attname)
            if isinstance(f, models.JSONField):
                value = None if value is None else json.dumps(value, allow_nan=False)
            elif isinstance(f, models.DateTimeField):
                value = connection.ops.adapt_datetimefield_value(value)
            values.append(value)
    if head is not None:
        from mamori.audit.models import ChainHead

        table = connection.ops.quote_name(ChainHead._meta.db_table)
        sql = (f"WITH ins AS ({sql}, seq), upd AS (UPDATE {table} SET last_hash = %s "  # noqa: S608
               "WHERE name = %s AND last_seq = %s) SELECT id, seq FROM ins")
        values += [head[2], head[0], head[1]]
    else:
        sql += ", seq"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        ids = dict((seq, pk) for pk, seq in cursor.fetchall())
    for event in events:
        event.pk = ids[event.seq]
        event._state.adding = False
        event._state.db = connection.alias


def seal_and_insert(event) -> Any:
    """Give an unsaved event its place in its chain, hash it and insert it.

    Must run inside the caller's transaction (the head lock lasts until commit,
    and a rollback takes the sequence number back with the event). Statements:
    take the next number (locks the head), then insert and store the new head
    hash (one statement on PostgreSQL, two on SQLite).
    """
    return seal_many([event])[0]


#: Rows per INSERT statement in ``seal_many`` (17 columns: well under SQLite's variable limit).
INSERT_BATCH = 500


def seal_many(events: list) -> list:
    """Seal and insert several unsaved events of one chain, in order, with one head lock."""
    from django.db import connection

    if not events:
        return events
    if not connection.in_atomic_block:
        raise RuntimeError("Audit events are sealed inside a transaction.")
    chain = event_chain(events[0])
    tenant_id = getattr(events[0], "tenant_id", None)
    if tenant_id is not None:
        from mamori.tenancy.context import current_tenant

        active = current_tenant()
        if active is None or active.pk != tenant_id:
            raise RuntimeError("An audit event is sealed inside its own tenant's context.")
    for event in events:
        if event_chain(event) != chain or type(event) is not type(events[0]):
            raise ValueError("seal_many() takes events of one chain")
        event.before = normalise_json(event.before)
        event.after = normalise_json(event.after)
        event.ip = normalise_ip(event.ip)
    seq, prev_hash = _lock_head(connection, chain, len(events))
    for event in events:
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = prev_hash = event_hash(payload_for(event))
        seq += 1
    last = events[-1]
    pg = connection.vendor == "postgresql"
    for start in range(0, len(events), INSERT_BATCH):
        final = start + INSERT_BATCH >= len(events)
        _insert(connection, events[start:start + INSERT_BATCH],
                head=(chain, last.seq, last.hash) if pg and final else None)
    if not pg:
        _set_head_hash(connection, chain, last.seq, last.hash)
    return events
