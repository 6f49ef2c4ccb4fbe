"""The hash chain over audit events: sealing at insert and verification.

Every chain (``tenant:<id>`` for a tenant's log, ``provider`` for the provider
log) numbers its events 1, 2, 3… and each event's ``hash`` is
``sha256(canonical_bytes(payload))`` over every stored field plus the previous
event's hash (``mamori.audit.canonical``). The writer seals an event when it
inserts it (``seal_payloads``), under a lock on the chain's ``ChainHead`` row; see
docs/decisions/0007-audit-chain-sealing.md for why the writer and not a task.

``payload_for`` and ``verify_chain`` are pure: the evidence export and the
standalone verifier reuse them (``verify_chain`` also accepts plain dicts).

Throughput (docs/audit.md, "Performance"): the writer does the per-event work in
plain dicts (no model ``__init__``) and hashes with the canonical encoder built once
(``fast_canonical_text``, byte-identical to ``canonical_bytes``). On PostgreSQL:

- one event (an audited write) is one prepared statement that takes the head, has the
  server hash the canonical text around ``prev_hash`` and ``seq``, inserts the event and
  answers the registered tenant facts (``_one_event_sql``, ``register_tenant_fact``);
- 2–8 events are one prepared ``INSERT … VALUES`` that also stores the head hash;
- a larger batch goes in pipelined parts, each one text parameter per column (the values
  joined by a separator) to ``INSERT … SELECT … FROM unnest(string_to_array(…), …)``, so
  the driver neither parses a statement with thousands of placeholders nor adapts
  thousands of values, the server splits strings instead of parsing JSON, and it inserts
  one part while Python hashes the next (``_insert_pg_pipelined``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

try:
    from json.encoder import c_encode_basestring as _encode_str
except ImportError:  # pragma: no cover - CPython always has it
    from json.encoder import py_encode_basestring as _encode_str

from mamori.audit.canonical import (
    _C_CANONICAL,
    _CANONICAL,
    CHAIN_FIELDS,
    GENESIS_HASH,
    chain_name,
    fast_canonical_text,
    fast_format_time,
    format_time,
)

_PLAIN_FIELDS = ("action", "actor_type", "actor_id", "actor_label", "target_type", "target_id",
                 "target_label", "user_agent", "request_id")
#: Stored fields of an event that its payload holds (``CHAIN_FIELDS`` without ``chain``).
_STORED_PAYLOAD_FIELDS = tuple(name for name in CHAIN_FIELDS if name != "chain")
_STORE_JSON = json.JSONEncoder(allow_nan=False).encode  # what json.dumps(value, allow_nan=False) gives


def _parse_float(text: str) -> Any:
    """A float written in exponent form that is a whole number (``1e+16``) becomes the integer
    its decimal text means: PostgreSQL's jsonb prints it back as ``10000000000000000``, which
    reads as an int, so the event is sealed with the value the column will return."""
    value = float(text)
    if ("e" in text or "E" in text) and value.is_integer():
        return int(Decimal(text))
    return value


def normalise_json(value: Any) -> Any:
    """The value as the JSON column gives it back (tuples → lists, keys → strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, allow_nan=False), parse_float=_parse_float)


def _is_plain_json(value: Any) -> bool:
    """True when ``value`` already is what ``normalise_json`` would return (str keys, lists,
    str/int/bool/None leaves), so the JSON round trip can be skipped. Floats and anything else
    take the round trip (it rejects NaN and infinities and normalises the rest)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if not _is_plain_json(item):
                return False
        return True
    if kind is list:
        return all(_is_plain_json(item) for item in value)
    return False


def _normalised(value: Any) -> Any:
    """``normalise_json(value)``, without the round trip when the value is already plain.

    Returns ``value`` itself in that case: the writer's callers hand over fresh dicts (the
    redactor copies them)."""
    if value is None or _is_plain_json(value):
        return value
    return json.loads(json.dumps(value, allow_nan=False), parse_float=_parse_float)


normalised_json = _normalised


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
    return verify_prepared(map(_payload_and_hash, events), start_seq=start_seq, start_hash=start_hash,
                           chain=chain, on_event=on_event)


def _link_failure(seq: int, expected: int, prev_hash: str, count: int) -> VerifyResult:
    """Why an event does not follow the previous one: a wrong sequence number (duplicate,
    reordered, or events missing before it), else a ``prev_hash`` that does not link."""
    if seq < expected:
        return VerifyResult(False, seq, "duplicate or out-of-order sequence number", expected - 1, prev_hash, count)
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
        return VerifyResult(False, expected, f"event(s) {missing} missing (deleted)", expected - 1, prev_hash, count)
    return VerifyResult(False, seq, "prev_hash does not match the previous event's hash "
                        "(inserted, removed or reordered event)", expected - 1, prev_hash, count)


def verify_prepared(items: Iterable[tuple[dict[str, Any], str]], *, start_seq: int = 1,
                    start_hash: str = GENESIS_HASH, chain: str | None = None, on_event=None) -> VerifyResult:
    """``verify_chain`` over ``(payload, stored_hash)`` pairs whose payload holds exactly the
    ``CHAIN_FIELDS`` (``mamori.audit.verify.stream_prepared`` yields them straight from the
    database). Same checks, in the same order, with the same results."""
    expected = start_seq
    prev_hash = start_hash
    count = 0
    sha256 = hashlib.sha256
    text = fast_canonical_text
    for payload, stored_hash in items:
        seq = payload["seq"]
        if seq is None:
            return VerifyResult(False, expected, "unsealed event (no sequence number)", expected - 1, prev_hash, count)
        if chain is not None and payload["chain"] != chain:
            return VerifyResult(False, seq, f"event belongs to chain {payload['chain']}", expected - 1, prev_hash, count)
        if seq != expected or payload["prev_hash"] != prev_hash:
            return _link_failure(seq, expected, prev_hash, count)
        if sha256(text(payload).encode("utf-8")).hexdigest() != stored_hash:
            return VerifyResult(False, seq, "hash mismatch (event content changed)", expected - 1, prev_hash, count)
        count += 1
        prev_hash = stored_hash
        if on_event is not None:
            on_event(seq, stored_hash)
        expected += 1
    return VerifyResult(True, None, "", expected - 1, prev_hash, count)


# --- Verifying stored rows, without building payload dicts ------------------------------------
# The payload's keys are always ``CHAIN_FIELDS``, so the canonical encoder's key sort always gives
# the same order; ``verify_rows`` writes that order out once and encodes each value with the pieces
# the canonical encoder itself uses for it: its string encoder (``c_encode_basestring``, the one
# ``ensure_ascii=False`` selects) for text, ``int.__repr__`` for the sequence number, ``null`` for
# None and the canonical encoder itself for the JSON values (before/after), whose nested output is
# the same as at the top level. The rows come from the event tables, whose column types fix the
# value types; a value of any other type raises TypeError (the string encoder refuses
# non-strings) and that row takes the payload dict and ``fast_canonical_text``.
# tests/audit/test_canonical_fast.py checks with hypothesis that a row verifies exactly when its
# stored hash is ``event_hash`` of its payload.
if tuple(sorted(CHAIN_FIELDS)) != ("action", "actor_id", "actor_label", "actor_type", "after", "before", "chain",
                                   "ip", "occurred_at", "prev_hash", "request_id", "seq", "target_id",
                                   "target_label", "target_type", "user_agent"):  # pragma: no cover
    raise ImportError("CHAIN_FIELDS changed: update the key order of verify_rows and _payload_text")
#: Stored columns of an event in the order ``verify_rows`` reads them (then the stored hash).
ROW_COLUMNS = ("seq", "occurred_at", "action", "actor_type", "actor_id", "actor_label", "target_type",
               "target_id", "target_label", "before", "after", "ip", "user_agent", "request_id", "prev_hash")
#: ``"".join(_json_chunks(value, 0))``: a JSON value as the canonical encoder writes it.
_json_chunks = _C_CANONICAL if _C_CANONICAL is not None else lambda value, _level: [_CANONICAL.encode(value)]


def _identity(value: Any) -> Any:
    return value


def verify_rows(rows: Iterable[tuple], chain: str, *, start_seq: int = 1, start_hash: str = GENESIS_HASH,
                on_event=None, loads=None, time_text=None, ip_text=None) -> VerifyResult:
    """``verify_prepared`` over stored rows of ``chain`` (``ROW_COLUMNS`` then the stored hash;
    ``mamori.audit.verify.stream_rows`` reads them). Same checks, in the same order, with the same
    results; the rows come from a query scoped to the chain, so there is no chain check.

    Decoding happens in this one loop: ``loads`` (before/after stored as JSON text), ``time_text``
    (the stored time to the writer's form), ``ip_text`` (an address holding a colon to the
    writer's form); None when the rows already hold the writer's form.
    """
    expected = start_seq
    prev_hash = start_hash
    count = 0
    sha256 = hashlib.sha256
    s = _encode_str
    chunks = _json_chunks
    join = "".join
    loads = loads or _identity
    chain_text = s(chain)
    for row in rows:
        (seq, when, action, actor_type, actor_id, actor_label, target_type, target_id, target_label, before,
         after, ip, user_agent, request_id, row_prev_hash, stored_hash) = row
        if seq is None:
            return VerifyResult(False, expected, "unsealed event (no sequence number)", expected - 1, prev_hash, count)
        if seq != expected or row_prev_hash != prev_hash:
            return _link_failure(seq, expected, prev_hash, count)
        if time_text is not None:
            when = time_text(when)
        if before is not None:
            before = loads(before)
        if after is not None:
            after = loads(after)
        if ip is not None and ip_text is not None:
            ip = ip_text(ip)
        try:
            if type(seq) is not int:
                raise TypeError("seq")
            text = (f'{{"action":{s(action)},"actor_id":{s(actor_id)},"actor_label":{s(actor_label)},'
                    f'"actor_type":{s(actor_type)},"after":{"null" if after is None else join(chunks(after, 0))},'
                    f'"before":{"null" if before is None else join(chunks(before, 0))},"chain":{chain_text},'
                    f'"ip":{"null" if ip is None else s(ip)},"occurred_at":{s(when)},"prev_hash":{s(row_prev_hash)},'
                    f'"request_id":{s(request_id)},"seq":{int.__repr__(seq)},"target_id":{s(target_id)},'
                    f'"target_label":{s(target_label)},"target_type":{s(target_type)},"user_agent":{s(user_agent)}}}')
        except TypeError:  # a value of a type no stored row has: the payload dict and the canonical encoder
            payload = dict(zip(ROW_COLUMNS, (seq, when, action, actor_type, actor_id, actor_label, target_type,
                                             target_id, target_label, before, after, ip, user_agent, request_id,
                                             row_prev_hash), strict=True))
            payload["chain"] = chain
            text = fast_canonical_text(payload)
        if sha256(text.encode("utf-8")).hexdigest() != stored_hash:
            return VerifyResult(False, seq, "hash mismatch (event content changed)", expected - 1, prev_hash, count)
        count += 1
        prev_hash = stored_hash
        if on_event is not None:
            on_event(seq, stored_hash)
        expected += 1
    return VerifyResult(True, None, "", expected - 1, prev_hash, count)


def _payload_parts(payload: dict[str, Any], before_text: str, after_text: str) -> tuple[str, str, str]:
    """The canonical text of a writer's payload around its two chain fields: the text is
    ``head + '"' + prev_hash + '"' + middle + str(seq) + tail`` (the keys are sorted, and
    ``prev_hash`` and ``seq`` are the only values the chain head supplies). TypeError when a
    value is of a type the template does not write."""
    s = _encode_str
    ip = payload["ip"]
    head = (f'{{"action":{s(payload["action"])},"actor_id":{s(payload["actor_id"])},'
            f'"actor_label":{s(payload["actor_label"])},"actor_type":{s(payload["actor_type"])},'
            f'"after":{after_text},"before":{before_text},"chain":{s(payload["chain"])},'
            f'"ip":{"null" if ip is None else s(ip)},"occurred_at":{s(payload["occurred_at"])},'
            '"prev_hash":')
    middle = f',"request_id":{s(payload["request_id"])},"seq":'
    tail = (f',"target_id":{s(payload["target_id"])},'
            f'"target_label":{s(payload["target_label"])},"target_type":{s(payload["target_type"])},'
            f'"user_agent":{s(payload["user_agent"])}}}')
    return head, middle, tail


def _payload_text(payload: dict[str, Any], before_text: str, after_text: str) -> str:
    """``fast_canonical_text(payload)`` for a writer's payload, written out like ``verify_rows``
    does (``before_text``/``after_text``: its before/after as the canonical encoder writes them);
    TypeError when a value is of a type the template does not write (the caller then encodes
    the payload dict)."""
    seq = payload["seq"]
    if type(seq) is not int:
        raise TypeError("seq")
    head, middle, tail = _payload_parts(payload, before_text, after_text)
    return head + _encode_str(payload["prev_hash"]) + middle + int.__repr__(seq) + tail


# --- Sealing (Django side) ------------------------------------------------------------------


def _server_hashes(connection) -> bool:
    """Whether PostgreSQL may hash the canonical text itself: its ``convert_to(…, 'UTF8')`` gives
    the bytes Python hashes only when the database stores text as UTF-8."""
    connection.ensure_connection()
    return connection.connection.info.parameter_status("server_encoding") == "UTF8"


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
            f"INSERT INTO {table} (name, last_seq, last_hash, previous_hash) VALUES (%s, %s, '', '') "  # noqa: S608
            f"ON CONFLICT (name) DO UPDATE SET last_seq = {table}.last_seq + %s, previous_hash = {table}.last_hash "
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


@dataclass(frozen=True)
class _Statement:
    fields: tuple  # concrete non-pk fields, in column order
    others: tuple  # the fields that are not in the payload (tenant_id, tenant_ref…): per-row extras
    sql: str  # PostgreSQL: the whole INSERT (JSON rows); SQLite: "INSERT … VALUES " (rows appended)
    row: str = ""  # SQLite: one row's placeholders
    columns_sql: str = ""  # PostgreSQL: the whole INSERT (one delimited text per column)
    kinds: tuple = ()  # PostgreSQL, per field: "text", "int", "json" (how ``_column_texts`` writes it)
    values_sql: str = ""  # PostgreSQL, small batches: "INSERT … VALUES {} RETURNING …" ({}: the rows)
    values_row: str = ""  # PostgreSQL: one row's placeholders, cast to the column types but text
    one_sql: str = ""  # PostgreSQL: take the head, hash and insert one event, in one statement
    one_facts: tuple = ()  # the names of the tenant facts ``one_sql`` returns after the event's columns


_STATEMENTS: dict[tuple, _Statement] = {}


def _statement(model, connection) -> _Statement:
    """The INSERT for ``model`` on this database (built once).

    PostgreSQL, two forms; neither interpolates a value (only quoted model metadata and
    placeholders), and both keep the statement text and the number of parameters tiny whatever
    the batch size:

    - ``columns_sql`` (the usual one): one text parameter per column holding the batch's values
      joined by a separator (``_column_texts``), split by the server with ``string_to_array`` and
      zipped into rows by ``unnest``. The server splits strings instead of parsing JSON, which
      costs it a fraction of ``json(b)_to_recordset``'s time per event.
    - ``sql`` (when a value holds a separator character): one parameter, a JSON array of row
      objects (each the event's canonical payload plus ``hash`` and the extras), read with
      ``jsonb_to_recordset``.

    In both, text columns stay ``text`` in the SELECT and are assigned to their ``varchar(n)``
    columns by the INSERT, which refuses over-long values like a plain INSERT; the other
    columns are cast to their types. SQLite: a multi-row ``VALUES`` list.
    """
    key = (model, connection.vendor)
    cached = _STATEMENTS.get(key)
    if cached is not None:
        return cached
    from django.db import models

    qn = connection.ops.quote_name
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    others = tuple(f for f in fields if f.attname not in _STORED_PAYLOAD_FIELDS and f.attname != "hash")
    columns = ", ".join(qn(f.column) for f in fields)
    table = qn(model._meta.db_table)
    pk = qn(model._meta.pk.column)
    if connection.vendor == "postgresql":
        definitions, kinds, selected = [], [], []
        for i, f in enumerate(fields):
            if isinstance(f, models.CharField | models.TextField):
                kind, db_type = "text", "text"
            else:
                db_type = f.db_type(connection)
                kind = "json" if isinstance(f, models.JSONField) else "int" if db_type == "bigint" else "text"
            definitions.append(f"{qn(f.attname)} {db_type}")
            kinds.append(kind)
            selected.append(f"c{i}" if db_type == "text" else f"c{i}::{db_type}")
        sql = (f"INSERT INTO {table} ({columns}) SELECT {', '.join(qn(f.attname) for f in fields)} "  # noqa: S608
               f"FROM jsonb_to_recordset(%s::jsonb) AS x({', '.join(definitions)}) RETURNING {pk}, {qn('seq')}")
        # Each parameter starts with a separator (an empty input would split into no element at
        # all): element 1 is that empty string, the values are elements 2….
        split = f"(string_to_array(%s::text, E'\\x{ord(_SEPARATOR):02x}', E'\\x{ord(_NULL):02x}'))[2:]"
        columns_sql = (f"INSERT INTO {table} ({columns}) SELECT {', '.join(selected)} "  # noqa: S608
                       f"FROM unnest({', '.join([split] * len(fields))}) "
                       f"AS u({', '.join(f'c{i}' for i in range(len(fields)))}) RETURNING {pk}, {qn('seq')}")
        # Text parameters stay untyped (PostgreSQL assigns them to their varchar(n) columns, which
        # refuses over-long values; a cast to varchar(n) would truncate them).
        values_row = "(" + ", ".join("%s" if d.endswith(" text") else f"%s::{d.split(' ', 1)[1]}"
                                     for d in definitions) + ")"
        statement = _Statement(fields, others, sql, columns_sql=columns_sql, kinds=tuple(kinds),
                               values_sql=f"INSERT INTO {table} ({columns}) VALUES {{}} "  # noqa: S608
                                          f"RETURNING {pk}, {qn('seq')}",
                               values_row=values_row, one_sql=_one_event_sql(model, connection, fields, definitions),
                               one_facts=_fact_names(fields))
    else:
        statement = _Statement(fields, others, f"INSERT INTO {table} ({columns}) VALUES ",  # noqa: S608
                               "(" + ", ".join(["%s"] * len(fields)) + ")")
    _STATEMENTS[key] = statement
    return statement


#: The canonical text's hash, computed by PostgreSQL from the text around the two chain fields
#: (``_payload_parts``; head and middle carry the quotes around the hash): ``{prev}`` and ``{seq}``
#: are the chain head's columns.
_SERVER_HASH = ("encode(sha256(convert_to(%(head)s::text || {prev} || %(middle)s::text || ({seq})::text"
                " || %(tail)s::text, 'UTF8')), 'hex')")


#: Facts about the event's tenant that the one-event statement reads in the same round trip:
#: name → ``build(quote_name, tenant_sql)`` giving a boolean SQL expression, where ``tenant_sql``
#: is the event's tenant id. Registered by apps in ``ready()`` (``register_tenant_fact``).
_TENANT_FACTS: dict[str, Callable[[Callable[[str], str], str], str]] = {}


def register_tenant_fact(name: str, build: Callable[[Callable[[str], str], str], str]) -> None:
    """Have the PostgreSQL one-event writer also answer ``name`` about the event's tenant, in its
    statement (after the head is taken, so under the transaction's RLS scope). The answer reaches
    ``event_recorded`` receivers as ``facts[name]``; other writer paths send no facts, and
    receivers then ask the database themselves. ``mamori.siem`` uses it for "has the tenant an
    active subscription", which cost an audited write a round trip of its own."""
    _TENANT_FACTS[name] = build
    _STATEMENTS.clear()


def _fact_names(fields: tuple) -> tuple:
    return tuple(sorted(_TENANT_FACTS)) if any(f.attname == "tenant_id" for f in fields) else ()


def _one_event_sql(model, connection, fields: tuple, definitions: list[str]) -> str:
    """PostgreSQL: one statement that takes the chain head, computes the event's hash and inserts
    the event (an audited write's only audit statement, one round trip).

    The head upsert adds one to ``last_seq`` and stores the new hash, computed by the server from
    the old head (the ``SET`` expressions read the row as it was); ``previous_hash`` keeps the old
    hash for the event's ``prev_hash``. The row stays locked until commit, as in ``_lock_head``.
    A new chain starts at 1 after the genesis hash. Parameters are named: ``chain``, ``genesis``,
    ``head``/``middle``/``tail`` (``_payload_parts``) and ``c<i>`` per other column.
    """
    from mamori.audit.models import ChainHead

    qn = connection.ops.quote_name
    heads = qn(ChainHead._meta.db_table)
    old_hash = "COALESCE(NULLIF(c.last_hash, ''), %(genesis)s::text)"
    values = []
    for i, (field, definition) in enumerate(zip(fields, definitions, strict=True)):
        column = {"seq": "h.last_seq", "prev_hash": "h.previous_hash", "hash": "h.last_hash"}.get(field.attname)
        db_type = definition.split(" ", 1)[1]
        values.append(column or (f"%(c{i})s" if db_type == "text" else f"%(c{i})s::{db_type}"))
    pk = qn(model._meta.pk.column)
    facts = ""
    if _fact_names(fields):
        tenant_sql = values[[f.attname for f in fields].index("tenant_id")]
        facts = "".join(f", {_TENANT_FACTS[name](qn, tenant_sql)}" for name in _fact_names(fields))
    return (
        f"WITH h AS (INSERT INTO {heads} AS c (name, last_seq, last_hash, previous_hash) "  # noqa: S608
        f"VALUES (%(chain)s, 1, {_SERVER_HASH.format(prev='%(genesis)s::text', seq='1')}, %(genesis)s) "
        "ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + 1, "
        f"previous_hash = {old_hash}, last_hash = {_SERVER_HASH.format(prev=old_hash, seq='c.last_seq + 1')} "
        "RETURNING last_seq, previous_hash, last_hash), "
        f"ins AS (INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT {', '.join(values)} FROM h RETURNING {pk}) "
        f"SELECT ins.{pk}, h.last_seq, h.previous_hash, h.last_hash{facts} FROM ins, h"
    )


def _seal_one_pg(connection, statement: _Statement, chain: str, payload: dict, extra: dict,
                 parts: tuple[str, str, str], before_text: str, after_text: str,
                 facts: dict[str, Any] | None) -> tuple[int, str]:
    """Seal and insert one event with ``statement.one_sql``; fills in the payload's ``seq`` and
    ``prev_hash`` (and ``facts`` with the tenant facts) and returns the new primary key and hash
    (``parts``: ``_payload_parts``)."""
    head, middle, tail = parts
    params: dict[str, Any] = {"chain": chain, "genesis": GENESIS_HASH, "head": head + '"', "middle": '"' + middle,
                              "tail": tail}
    for i, (field, kind) in enumerate(zip(statement.fields, statement.kinds, strict=True)):
        name = field.attname
        if name in ("seq", "prev_hash", "hash"):
            continue
        if kind == "json":
            params[f"c{i}"] = None if payload[name] is None else (before_text if name == "before" else after_text)
        else:
            params[f"c{i}"] = payload[name] if name in payload else extra[name]
    from psycopg import Cursor

    from mamori.core.prepared import execute_prepared

    with Cursor(connection.connection) as cursor:
        execute_prepared(cursor, statement.one_sql, params)  # planning it cost more than running it
        pk, seq, prev_hash, new_hash, *answers = cursor.fetchone()
    if facts is not None:
        facts.update(zip(statement.one_facts, answers, strict=True))
    payload["seq"] = int(seq)
    payload["prev_hash"] = prev_hash
    return pk, new_hash


#: Separator and NULL marker of the column texts (``_column_texts``): control characters that
#: JSON text never holds unescaped; a batch where a value holds one takes the JSON form.
_SEPARATOR = "\x1f"
_NULL = "\x1e"


def _column_texts(statement: _Statement, payloads: list[dict], hashes: list[str],
                  extras: list[dict], json_texts: dict[str, list[str]] | None = None) -> list[str] | None:
    """One parameter per column for ``statement.columns_sql``: the separator, then the batch's
    values joined by the separator (NULL as the NULL marker). None when a value holds either
    character (or a text column holds a non-string), so the caller takes the JSON form."""
    sep, null = _SEPARATOR, _NULL
    encode = fast_canonical_text
    texts = []
    for field, kind in zip(statement.fields, statement.kinds, strict=True):
        name = field.attname
        if name == "hash":
            values = hashes
        elif name in payloads[0]:
            values = [payload[name] for payload in payloads]
        else:
            values = [extra[name] for extra in extras]
        nulls = 0
        known = json_texts.get(name) if json_texts else None
        if kind == "json" and known is not None:  # the canonical texts the hashing wrote already
            values = [null if value is None else text for value, text in zip(values, known, strict=True)]
            nulls = values.count(null)
        elif kind == "json":
            values = [null if value is None else encode(value) for value in values]
            nulls = values.count(null)
        elif kind == "int":
            values = [null if value is None else str(int(value)) for value in values]
            nulls = values.count(null)
        elif None in values:
            nulls = values.count(None)
            values = [null if value is None else value for value in values]
        try:
            text = sep + sep.join(values)
        except TypeError:  # not a string: the JSON form converts it (or refuses it) as before
            return None
        if text.count(sep) != len(values) or text.count(null) != nulls:
            return None
        texts.append(text)
    return texts


#: Events per INSERT statement (SQLite: 17 columns × 500 stays under its variable limit).
INSERT_BATCH = 500
INSERT_BATCH_PG = 2000


#: Batches of up to this many events take the VALUES form on PostgreSQL: for one event (an audited
#: write) the server parses and plans it in a fraction of the unnest form's time.
VALUES_BATCH_PG = 8


def _insert_pg_values(connection, statement: _Statement, payloads: list[dict], hashes: list[str],
                      extras: list[dict], json_texts: dict[str, list[str]], head: tuple[str, int, str]) -> dict:
    """The INSERT as rows of bound parameters (small batches), storing the new head hash in the
    same statement: each value exactly as hashed (the JSON columns as their canonical text), cast
    to its column's type by the statement. Prepared: one text per batch size, and they recur."""
    params: list[Any] = []
    for i, (payload, hash_, extra) in enumerate(zip(payloads, hashes, extras, strict=True)):
        for field, kind in zip(statement.fields, statement.kinds, strict=True):
            name = field.attname
            if name == "hash":
                params.append(hash_)
            elif kind == "json":
                params.append(None if payload[name] is None else json_texts[name][i])
            elif name in payload:
                params.append(payload[name])
            else:
                params.append(extra[name])
    sql = statement.values_sql.replace("{}", ", ".join([statement.values_row] * len(payloads)), 1)
    sql, params = _with_head(connection, sql, params, head)
    # A server-binding cursor on Django's connection (same transaction): the values go as bound
    # parameters instead of being escaped into the statement text by the client-side cursor.
    from psycopg import Cursor

    from mamori.core.prepared import execute_prepared

    connection.ensure_connection()
    with Cursor(connection.connection) as cursor:
        execute_prepared(cursor, sql, params)
        return {seq: pk for pk, seq in cursor.fetchall()}


def _with_head(connection, sql: str, params: list[Any], head: tuple[str, int, str]) -> tuple[str, list[Any]]:
    """The INSERT wrapped so that the same statement stores the new head hash (one round trip less)."""
    from mamori.audit.models import ChainHead

    table = connection.ops.quote_name(ChainHead._meta.db_table)
    sql = (f"WITH ins AS ({sql}), upd AS (UPDATE {table} SET last_hash = %s "  # noqa: S608
           "WHERE name = %s AND last_seq = %s) SELECT * FROM ins")
    return sql, [*params, head[2], head[0], head[1]]


def _json_rows(canonicals: list[str], hashes: list[str], extras: list[dict]) -> str:
    """The JSON form's parameter: row objects, each the canonical payload itself plus "hash" and the
    extras (jsonb_to_recordset looks the columns up by name: the key order does not matter, and
    "chain", which is not a column, is ignored; no key occurs twice)."""
    rows = []
    prefixes: dict[tuple, str] = {}
    for canonical, hash_, extra in zip(canonicals, hashes, extras, strict=True):
        key = tuple(extra.items())
        prefix = prefixes.get(key)
        if prefix is None:
            prefix = prefixes[key] = _encode_extra(extra)
        rows.append('{"hash":"' + hash_ + '",' + prefix + canonical[1:])
    return "[" + ",".join(rows) + "]"


def _insert_sqlite(connection, statement: _Statement, payloads: list[dict], times: list, hashes: list[str],
                   extras: list[dict]) -> dict:
    adapt_time = connection.ops.adapt_datetimefield_value
    values: list[Any] = []
    names = [f.attname for f in statement.fields]
    for payload, when, hash_, extra in zip(payloads, times, hashes, extras, strict=True):
        for name in names:
            if name == "occurred_at":
                values.append(adapt_time(when))
            elif name == "hash":
                values.append(hash_)
            elif name == "before" or name == "after":
                value = payload[name]
                values.append(None if value is None else _STORE_JSON(value))
            elif name in payload:
                values.append(payload[name])
            else:
                values.append(extra[name])
    sql = statement.sql + ", ".join([statement.row] * len(payloads)) + " RETURNING id, seq"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return {seq: pk for pk, seq in cursor.fetchall()}


def _encode_extra(values: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(name)}:{json.dumps(value, allow_nan=False)}," for name, value in values.items())


def seal_payloads(model, chain: str, payloads: list[dict[str, Any]], times: list[datetime],
                  extras: list[dict[str, Any]], facts: dict[str, Any] | None = None) -> tuple[list[int], list[str]]:
    """Seal and insert events of one chain, in order, under one head lock. The core of the writer.

    ``payloads``: one dict per event holding ``chain``, ``occurred_at`` (formatted),
    ``action`` … ``request_id`` with ``before``/``after``/``ip`` already normalised, exactly
    ``CHAIN_FIELDS`` once ``seq`` and ``prev_hash`` are filled in here. ``times``: the
    events' ``occurred_at`` as datetimes. ``extras``: per event, the model's other columns
    (``tenant_id`` or ``tenant_ref``). Fills ``seq``/``prev_hash`` in the payloads and
    returns the new primary keys and the hashes. Runs inside the caller's transaction.
    ``facts``: filled with the registered tenant facts when the writer's statement read them
    (``register_tenant_fact``; PostgreSQL, one event), left alone otherwise.
    """
    from django.db import connection

    if not connection.in_atomic_block:
        raise RuntimeError("Audit events are sealed inside a transaction.")
    statement = _statement(model, connection)
    pg = connection.vendor == "postgresql"
    if pg and len(payloads) == 1 and _server_hashes(connection):  # an audited write: one statement
        payload = payloads[0]
        value = payload["before"]
        before_text = "null" if value is None else "".join(_json_chunks(value, 0))
        value = payload["after"]
        after_text = "null" if value is None else "".join(_json_chunks(value, 0))
        try:
            parts = _payload_parts(payload, before_text, after_text)
        except TypeError:
            parts = None  # a value the template does not write: the general path below
        if parts is not None:
            pk, new_hash = _seal_one_pg(connection, statement, chain, payload, extras[0], parts,
                                        before_text, after_text, facts)
            return [pk], [new_hash]
    seq, prev_hash = _lock_head(connection, chain, len(payloads))
    first = seq
    last_seq = seq + len(payloads) - 1
    if pg and len(payloads) > VALUES_BATCH_PG:
        ids, hashes = _insert_pg_pipelined(connection, statement, chain, payloads, extras, seq, prev_hash)
        return [ids[s] for s in range(first, last_seq + 1)], hashes
    hashes: list[str] = []
    canonicals: list[str] = []
    # before/after as the canonical encoder writes them: in the hashed text and, on PostgreSQL,
    # the jsonb column texts, encoded once for both.
    befores: list[str] = []
    afters: list[str] = []
    last_hash = _hash_span(payloads, seq, prev_hash, hashes, canonicals, befores, afters, pg)
    ids: dict[int, int] = {}
    if pg:  # the whole call in one small statement
        ids.update(_insert_pg_values(connection, statement, payloads, hashes, extras,
                                     {"before": befores, "after": afters}, (chain, last_seq, last_hash)))
    else:
        step = INSERT_BATCH
        for start in range(0, len(payloads), step):
            end = start + step
            ids.update(_insert_sqlite(connection, statement, payloads[start:end], times[start:end],
                                      hashes[start:end], extras[start:end]))
        _set_head_hash(connection, chain, last_seq, last_hash)
    return [ids[s] for s in range(first, last_seq + 1)], hashes


def _hash_span(payloads: list[dict], seq: int, prev_hash: str, hashes: list[str], canonicals: list[str],
               befores: list[str], afters: list[str], keep_texts: bool) -> str:
    """Number and hash ``payloads`` from ``seq`` after ``prev_hash``: fills in each payload's
    ``seq``/``prev_hash``, appends the hashes (and, with ``keep_texts``, the canonical texts and
    the before/after texts the PostgreSQL insert sends) and returns the last hash."""
    sha256 = hashlib.sha256
    chunks = _json_chunks
    join = "".join
    for payload in payloads:
        payload["seq"] = seq
        payload["prev_hash"] = prev_hash
        value = payload["before"]
        before_text = "null" if value is None else join(chunks(value, 0))
        value = payload["after"]
        after_text = "null" if value is None else join(chunks(value, 0))
        try:
            canonical = _payload_text(payload, before_text, after_text)
        except TypeError:  # a value the template does not write: the canonical encoder itself
            canonical = fast_canonical_text(payload)
        prev_hash = sha256(canonical.encode("utf-8")).hexdigest()
        hashes.append(prev_hash)
        if keep_texts:
            canonicals.append(canonical)
            befores.append(before_text)
            afters.append(after_text)
        seq += 1
    return prev_hash


def _part_statement(statement: _Statement, payloads: list[dict], hashes: list[str], extras: list[dict],
                    canonicals: list[str], befores: list[str], afters: list[str]) -> tuple[str, list[Any]]:
    """The INSERT of one part of a batch and its parameters: the column form, or the JSON form
    when a value holds a separator character."""
    params = _column_texts(statement, payloads, hashes, extras, {"before": befores, "after": afters})
    if params is not None:
        return statement.columns_sql, params
    return statement.sql, [_json_rows(canonicals, hashes, extras)]


def _pipeline_step(count: int) -> int:
    """Events per statement of a pipelined batch: about a quarter of the batch (so the server
    inserts one part while Python hashes the next), at most ``INSERT_BATCH_PG``."""
    return min(INSERT_BATCH_PG, max(VALUES_BATCH_PG, -(-count // 4)))


def _insert_pg_pipelined(connection, statement: _Statement, chain: str, payloads: list[dict], extras: list[dict],
                         seq: int, prev_hash: str) -> tuple[dict[int, int], list[str]]:
    """PostgreSQL, a batch: hash a part, send its INSERT without waiting for the answer (psycopg's
    pipeline mode), hash the next part while the server inserts the previous one. The last part's
    statement also stores the new head hash. Results are read when the pipeline ends; an error in
    any part aborts the caller's transaction, as a single statement's would."""
    from contextlib import nullcontext

    from psycopg import Cursor, Pipeline

    count = len(payloads)
    last_seq = seq + count - 1
    step = _pipeline_step(count)
    all_hashes: list[str] = []
    cursors = []
    raw = connection.connection
    try:
        # (A libpq older than 14 has no pipeline mode: the parts then go one after the other.)
        with raw.pipeline() if Pipeline.is_supported() else nullcontext():
            for start in range(0, count, step):
                end = min(start + step, count)
                part, part_extras = payloads[start:end], extras[start:end]
                hashes: list[str] = []
                canonicals: list[str] = []
                befores: list[str] = []
                afters: list[str] = []
                prev_hash = _hash_span(part, seq + start, prev_hash, hashes, canonicals, befores, afters, True)
                all_hashes += hashes
                sql, params = _part_statement(statement, part, hashes, part_extras, canonicals, befores, afters)
                if end == count:
                    sql, params = _with_head(connection, sql, params, (chain, last_seq, prev_hash))
                cursor = Cursor(raw)
                cursors.append(cursor)
                cursor.execute(sql, params)
        ids: dict[int, int] = {}
        for cursor in cursors:
            ids.update({seq_: pk for pk, seq_ in cursor.fetchall()})
    finally:
        for cursor in cursors:
            cursor.close()
    return ids, all_hashes


def build_payload(chain: str, when: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    """A payload (without ``seq``/``prev_hash``) from raw field values: ``before``/``after``
    normalised as the JSON column returns them, ``ip`` as text."""
    payload = {
        "chain": chain,
        "occurred_at": fast_format_time(when),
        "action": fields["action"],
        "actor_type": fields.get("actor_type", ""),
        "actor_id": fields.get("actor_id", ""),
        "actor_label": fields.get("actor_label", ""),
        "target_type": fields.get("target_type", ""),
        "target_id": fields.get("target_id", ""),
        "target_label": fields.get("target_label", ""),
        "before": _normalised(fields.get("before")),
        "after": _normalised(fields.get("after")),
        "ip": normalise_ip(fields.get("ip")),
        "user_agent": fields.get("user_agent", ""),
        "request_id": fields.get("request_id", ""),
        "seq": None,
        "prev_hash": "",
    }
    return payload


def materialise_many(model, payloads: list[dict[str, Any]], times: list[datetime], ids: list[int],
                     hashes: list[str], extra: dict[str, Any], cached: dict[str, Any] | None = None) -> list:
    """The saved model instances for sealed payloads (sharing ``extra`` and ``cached``), without
    ``Model.__init__`` (which costs more than sealing the event). Built like unpickled instances:
    ``__new__``, the field attributes, a ``ModelState`` marked as loaded from the default database."""
    from django.db import connection
    from django.db.models.base import ModelState

    alias = connection.alias
    new = model.__new__
    instances = []
    for payload, when, pk, hash_ in zip(payloads, times, ids, hashes, strict=True):
        instance = new(model)
        values = instance.__dict__
        values.update(payload)  # CHAIN_FIELDS: the stored payload fields, and "chain" (not a field)
        del values["chain"]
        values["id"] = pk
        values["occurred_at"] = when
        values["hash"] = hash_
        values.update(extra)
        state = instance._state = ModelState()
        state.adding = False
        state.db = alias
        if cached:
            state.fields_cache = dict(cached)
        instances.append(instance)
    return instances


def seal_and_insert(event) -> Any:
    """Give an unsaved event its place in its chain, hash it and insert it.

    Must run inside the caller's transaction (the head lock lasts until commit,
    and a rollback takes the sequence number back with the event). Statements:
    take the next number (locks the head), then insert and store the new head
    hash (one statement on PostgreSQL, two on SQLite).
    """
    return seal_many([event])[0]


def seal_many(events: list) -> list:
    """Seal and insert several unsaved events (model instances) of one chain, in order, with one
    head lock. The instances get their ``seq``, ``prev_hash``, ``hash`` and primary key."""
    from django.db import connection

    if not events:
        return events
    if not connection.in_atomic_block:
        raise RuntimeError("Audit events are sealed inside a transaction.")
    model = type(events[0])
    chain = event_chain(events[0])
    tenant_id = getattr(events[0], "tenant_id", None)
    if tenant_id is not None:
        from mamori.tenancy.context import current_tenant

        active = current_tenant()
        if active is None or active.pk != tenant_id:
            raise RuntimeError("An audit event is sealed inside its own tenant's context.")
    statement = _statement(model, connection)
    payloads, times, extras = [], [], []
    for event in events:
        if event_chain(event) != chain or type(event) is not model:
            raise ValueError("seal_many() takes events of one chain")
        event.before = normalise_json(event.before)
        event.after = normalise_json(event.after)
        event.ip = normalise_ip(event.ip)
        payloads.append(build_payload(chain, event.occurred_at, {name: getattr(event, name) for name in
                                                                 ("action", *_PLAIN_FIELDS[1:], "before", "after",
                                                                  "ip")}))
        times.append(event.occurred_at)
        extras.append({f.attname: getattr(event, f.attname) for f in statement.others})
    ids, hashes = seal_payloads(model, chain, payloads, times, extras)
    for event, payload, pk, hash_ in zip(events, payloads, ids, hashes, strict=True):
        event.seq, event.prev_hash, event.hash = payload["seq"], payload["prev_hash"], hash_
        event.pk = pk
        event._state.adding = False
        event._state.db = connection.alias
    return events
