"""The fast paths of the writer and verifier produce exactly the canonical form (issue 5 throughput)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.audit import canonical
from mamori.audit.chain import (
    _is_plain_json,
    _normalised,
    normalise_json,
    payload_for,
    verify_chain,
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


def _write_and_check(admin, labels: list[str], monkeypatch, batch: int) -> list[bool]:
    from mamori.audit import chain

    forms: list[bool] = []
    insert = chain._insert_pg

    def spy(connection, statement, params, head, columns):
        forms.append(columns)
        return insert(connection, statement, params, head, columns)

    monkeypatch.setattr(chain, "_insert_pg", spy)
    monkeypatch.setattr(chain, "INSERT_BATCH_PG", batch)
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
    assert verify_tenant_chain(tenant).ok
    if connection.vendor == "postgresql":
        # Batches without a separator character take the column form, the others the JSON form.
        assert True in forms and False in forms


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(db_text, min_size=1, max_size=6), st.integers(1, 4))
def test_writer_round_trip_property(tenant, admin, monkeypatch, labels, batch):
    _write_and_check(admin, labels, monkeypatch, batch)
    assert verify_tenant_chain(tenant).ok
