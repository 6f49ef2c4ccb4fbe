"""The fast paths of the writer and verifier produce exactly the canonical form (issue 5 throughput)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.audit import canonical
from mamori.audit.chain import (
    ROW_COLUMNS,
    _is_plain_json,
    _json_chunks,
    _normalised,
    _payload_text,
    normalise_json,
    payload_for,
    verify_chain,
    verify_prepared,
    verify_rows,
)
from mamori.audit.events import Actor, record_event, record_events
from mamori.audit.models import AuditEvent
from mamori.audit.verify import stream_prepared, verify_tenant_chain
from mamori.evidence import verify_evidence

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
leaves = st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | text | st.floats(allow_nan=False,
                                                                                          allow_infinity=False)
json_values = st.recursive(leaves, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(text, children, max_size=4), max_leaves=12)
payloads = st.fixed_dictionaries({
    "chain": st.sampled_from(["provider", "tenant:1", "tenant:42"]),
    "seq": st.integers(1, 2 ** 62),
    "occurred_at": text, "action": text, "actor_type": text, "actor_id": text, "actor_label": text,
    "target_type": text, "target_id": text, "target_label": text,
    "before": st.none() | st.dictionaries(text, json_values, max_size=5),
    "after": st.none() | st.dictionaries(text, json_values, max_size=5),
    "ip": st.none() | st.ip_addresses().map(str), "user_agent": text, "request_id": text,
    "prev_hash": st.text("0123456789abcdef", min_size=64, max_size=64),
})


@settings(max_examples=400, deadline=None)
@given(payloads)
def test_fast_canonical_bytes_equal_canonical_bytes(payload):
    expected = canonical.canonical_bytes(payload)
    assert canonical.fast_canonical_bytes(payload) == expected
    assert verify_evidence.canonical_bytes(payload) == expected  # the standalone verifier's copy
    assert canonical.fast_event_hash(payload) == canonical.event_hash(payload)


def _row(payload: dict, stored_hash: str, stored_json=None) -> tuple:
    row = [payload[name] for name in ROW_COLUMNS]
    if stored_json is not None:
        row[9:11] = [None if value is None else stored_json(value) for value in row[9:11]]
    return (*row, stored_hash)


@settings(max_examples=400, deadline=None)
@given(payloads, st.sampled_from([None, json.dumps, lambda value: json.dumps(value, ensure_ascii=False)]))
def test_verify_rows_accepts_exactly_the_canonical_hash(payload, stored_json):
    """``verify_rows`` writes the canonical text itself (no payload dict): a stored row verifies
    when its hash is ``event_hash`` of its payload, and not with any other payload's hash."""
    good = canonical.event_hash(payload)
    loads = None if stored_json is None else json.loads
    keywords = {"start_seq": payload["seq"], "start_hash": payload["prev_hash"], "loads": loads}
    result = verify_rows([_row(payload, good, stored_json)], payload["chain"], **keywords)
    assert result.ok and result.last_hash == good and result.count == 1
    assert result == verify_prepared([(payload, good)], start_seq=payload["seq"], start_hash=payload["prev_hash"])
    changed = dict(payload, target_label=payload["target_label"] + "x")
    bad = verify_rows([_row(changed, good, stored_json)], payload["chain"], **keywords)
    assert not bad.ok and bad.first_bad_seq == payload["seq"] and bad.reason.startswith("hash mismatch")
    other_chain = verify_rows([_row(payload, good, stored_json)], payload["chain"] + "0", **keywords)
    assert not other_chain.ok


@settings(max_examples=400, deadline=None)
@given(payloads)
def test_writer_payload_text_is_the_canonical_text(payload):
    """The writer's template (before/after encoded once, for the hash and the jsonb columns)."""
    def encoded(value):
        return "null" if value is None else "".join(_json_chunks(value, 0))

    text = _payload_text(payload, encoded(payload["before"]), encoded(payload["after"]))
    assert text.encode("utf-8") == canonical.canonical_bytes(payload)


def test_writer_payload_text_refuses_what_it_does_not_write():
    payload = {name: "" for name in canonical.CHAIN_FIELDS} | {"seq": 1, "before": None, "after": None, "ip": None}
    assert _payload_text(payload, "null", "null") == canonical.canonical_bytes(payload).decode()
    for name, value in (("seq", True), ("seq", 1.0), ("actor_id", 5), ("ip", 1), ("request_id", None)):
        try:
            _payload_text(dict(payload, **{name: value}), "null", "null")
        except TypeError:
            continue
        raise AssertionError(f"{name}={value!r} was written by the template")


def test_verify_rows_values_of_unexpected_types_take_the_canonical_encoder():
    payload = {"chain": "tenant:1", "seq": 3, "occurred_at": "t", "action": 5, "actor_type": None,
               "actor_id": "", "actor_label": 1.5, "target_type": "", "target_id": True, "target_label": "",
               "before": None, "after": [1, "x"], "ip": None, "user_agent": "", "request_id": "", "prev_hash": "p"}
    good = canonical.event_hash(payload)
    assert verify_rows([_row(payload, good)], "tenant:1", start_seq=3, start_hash="p").ok
    assert not verify_rows([_row(dict(payload, action=6), good)], "tenant:1", start_seq=3, start_hash="p").ok
    # A boolean sequence number is written "true" by the canonical encoder, never "1".
    flagged = dict(payload, seq=True)
    assert verify_rows([_row(flagged, canonical.event_hash(flagged))], "tenant:1", start_seq=1, start_hash="p").ok
    assert not verify_rows([_row(flagged, canonical.event_hash(dict(payload, seq=1)))], "tenant:1", start_seq=1,
                           start_hash="p").ok


@settings(max_examples=300, deadline=None)
@given(st.none() | st.dictionaries(text, json_values, max_size=5) | st.lists(json_values, max_size=4))
def test_normalised_equals_the_json_round_trip(value):
    assert _normalised(value) == normalise_json(value)
    if _is_plain_json(value):
        assert json.dumps(value) == json.dumps(normalise_json(value))


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=5))])))
def test_fast_format_time_equals_format_time(value):
    assert canonical.fast_format_time(value) == canonical.format_time(value)


def test_tuple_keys_and_floats_take_the_round_trip():
    assert _normalised({"a": (1, 2), 3: 1.5}) == {"a": [1, 2], "3": 1.5}
    assert not _is_plain_json({1: "x"}) and not _is_plain_json([1.0])


def test_fast_writer_matches_payload_for_and_stored_rows(tenant, admin):
    with transaction.atomic():
        single = record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", 1, "R1"),
                              before={"n": 1.0, "t": (1, 2), 5: "x"}, after={"ünïcode": "日本語"})
        many = record_events("record.updated", actor=Actor.for_user(admin),
                             items=[{"target": ("records.record", i, f"R{i}"), "after": {"i": i}} for i in range(5)])
    assert single.tenant == tenant and single.pk and not single._state.adding
    for event in [single, *many]:
        stored = AuditEvent.objects.get(pk=event.pk)
        assert (stored.seq, stored.hash, stored.prev_hash) == (event.seq, event.hash, event.prev_hash)
        assert payload_for(stored) == payload_for(event)
        assert canonical.event_hash(payload_for(stored)) == stored.hash
    streamed = dict((p["seq"], (p, h)) for p, h in stream_prepared(AuditEvent.objects.order_by("seq"),
                                                                     f"tenant:{tenant.pk}"))
    for event in [single, *many]:
        assert streamed[event.seq] == (payload_for(event), event.hash)
    assert verify_chain(AuditEvent.objects.order_by("seq")).ok
    assert verify_tenant_chain(tenant).ok


def test_ipv4_mapped_ipv6_address_verifies(tenant, admin):
    """PostgreSQL prints ::ffff:1.2.3.4 where Python's ipaddress (which the writer hashes) gives
    ::ffff:102:304: the verifier compares the writer's form."""
    from mamori.core.context import RequestContext, reset_request_context, set_request_context

    token = set_request_context(RequestContext("req-1", "::ffff:1.2.3.4", "agent"))
    try:
        with transaction.atomic():
            event = record_event("record.updated", actor=Actor.for_user(admin), after={"x": 1})
    finally:
        reset_request_context(token)
    assert event.ip == "::ffff:102:304"
    assert verify_tenant_chain(tenant).ok


# --- the writer's column form on PostgreSQL (one separator-joined text per column) --------------

TRICKY = ["", "\x1f", "\x1e", "a\x1fb\x1ec", "tab\there", "new\nline\r", "back\\slash", 'quote"', "日本語",
          "\\N", "NULL", " ", "{}", "[1,2]", "x" * 300]
db_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


def _write_and_check(admin, labels: list[str], monkeypatch, batch: int, values: bool = False) -> list[bool]:
    """``values``: small calls take the VALUES form (bound parameters), as they do by default;
    otherwise every call takes the column or JSON form."""
    from mamori.audit import chain

    forms: list[bool] = []
    part_statement = chain._part_statement

    def spy(statement, *args):
        sql, params = part_statement(statement, *args)
        forms.append(sql is statement.columns_sql)
        return sql, params

    monkeypatch.setattr(chain, "_part_statement", spy)
    monkeypatch.setattr(chain, "INSERT_BATCH_PG", batch)
    monkeypatch.setattr(chain, "VALUES_BATCH_PG", 100 if values else 0)
    items = [{"target": ("records.record", i, label[:300]),
              "before": None if i % 3 == 0 else {"k": label, label: [label, None, i]},
              "after": {"v": label} if i % 2 else None} for i, label in enumerate(labels)]
    with transaction.atomic():
        events = record_events("record.updated", actor=Actor("user", labels[0][:64], labels[-1][:254]), items=items)
    for event in events:
        stored = AuditEvent.objects.get(pk=event.pk)
        assert payload_for(stored) == payload_for(event)
        assert canonical.event_hash(payload_for(stored)) == stored.hash == event.hash
    return forms


def test_writer_stores_exactly_what_it_hashed_whatever_the_characters(tenant, admin, monkeypatch):
    forms = _write_and_check(admin, TRICKY, monkeypatch, batch=3)
    _write_and_check(admin, [""], monkeypatch, batch=3)  # one event, empty strings everywhere
    assert _write_and_check(admin, TRICKY, monkeypatch, batch=3, values=True) == []
    _write_and_check(admin, [""], monkeypatch, batch=3, values=True)
    assert verify_tenant_chain(tenant).ok
    if connection.vendor == "postgresql":
        # Batches without a separator character take the column form, the others the JSON form.
        assert True in forms and False in forms


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(db_text, min_size=1, max_size=6), st.integers(1, 4), st.booleans())
def test_writer_round_trip_property(tenant, admin, monkeypatch, labels, batch, values):
    _write_and_check(admin, labels, monkeypatch, batch, values)
    assert verify_tenant_chain(tenant).ok
