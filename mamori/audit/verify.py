"""Verifying the stored chains against their heads and signed digests.

``verify_stored_chain`` streams one chain (constant memory) through
``mamori.audit.chain.verify_chain`` and adds what only the database knows:

- the ``ChainHead`` (newest sequence number and hash the writer recorded), which
  reveals a truncated tail or events appended behind the writer's back;
- the signed ``AuditDigest`` rows: every signature must verify with the
  provider key its ``key_id`` names (current or retired, ``mamori.audit.signing``;
  an unknown key id fails as "signed by an unknown key <id>"), and each digest's ``head_hash`` must equal the recomputed hash
  at its ``up_to_seq``, which reveals a chain rewritten with fresh hashes and a
  tail truncated together with the head;
- a digest at ``first_seq - 1`` is the checkpoint of a retention purge: the
  chain then starts there.

``verify_across_tenants`` runs every tenant's chain inside ``tenant_context`` so
row-level security applies, then the provider chain, and records the outcome as
the provider-log event ``audit.verified``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import Any

from django.db import transaction
from django.db.models import CharField, Func, TextField
from django.db.models.functions import Cast

from mamori.audit.canonical import GENESIS_HASH, chain_name, format_time
from mamori.audit.chain import ROW_COLUMNS, normalise_ip, verify_rows
from mamori.audit.digests import digest_problem
from mamori.audit.models import AuditDigest, AuditEvent, ChainHead, ProviderEvent

CHUNK_SIZE = 5000
#: Selected per event, in this order; ``hash`` last (everything before it is the payload).
_COLUMNS = (*ROW_COLUMNS, "hash")
_PAYLOAD_KEYS = ROW_COLUMNS


class _UtcText(Func):
    """PostgreSQL: the time as ``format_time`` writes it, formatted by the server (the driver's
    Python ``timestamptz`` parser and ``strftime`` were a third of the verification time)."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = CharField()


@dataclass(frozen=True)
class ChainReport:
    chain: str
    label: str
    ok: bool
    first_bad_seq: int | None
    reason: str
    count: int
    last_seq: int
    digests: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.ok:
            return f"{self.chain} ({self.label}): OK, {self.count} events, up to seq {self.last_seq}, {self.digests} digests"
        where = f"first bad seq {self.first_bad_seq}" if self.first_bad_seq is not None else "no sequence"
        return f"{self.chain} ({self.label}): FAILED at {where}: {self.reason}"


def _time_text(value) -> str:
    if isinstance(value, str):  # SQLite: "YYYY-MM-DD HH:MM:SS[.ffffff]", naive UTC
        text = value.replace(" ", "T", 1)
        if "." not in text:
            text += ".000000"
        # Django writes exactly six fractional digits: anything longer is kept whole, so a value
        # with text appended after the microseconds hashes differently and fails verification.
        return text + "Z"
    if value.tzinfo is None:  # SQLite's converter: naive, stored in UTC (USE_TZ)
        value = value.replace(tzinfo=UTC)
    return format_time(value)


_SCAN = json.JSONDecoder().scan_once  # what json.loads uses, without its per-call wrapper


def _loads(text: str) -> Any:
    """``json.loads(text)``, faster for the compact JSON the database returns: the decoder's scanner
    straight away, and ``json.loads`` itself (same result or the same error) for anything the
    scanner does not consume whole (leading or trailing white space, invalid text)."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


def _ip_text(value) -> str:
    """The stored address as the writer hashed it: IPv6 through ``ipaddress`` (PostgreSQL prints
    some forms differently: IPv4-mapped addresses as ::ffff:1.2.3.4, Python as ::ffff:102:304)."""
    if type(value) is str and ":" not in value:
        return value
    value = str(value)
    return normalise_ip(value) if ":" in value else value


def stream_rows(queryset) -> tuple[Iterator[tuple], dict[str, Any]]:
    """Rows of ``queryset`` for ``mamori.audit.chain.verify_rows``, and the decoding keywords
    that function needs for them: ``ROW_COLUMNS`` then the stored hash.

    Runs the queryset's SQL on a chunked cursor (server-side on PostgreSQL), so memory
    stays constant whatever the chain's length, and skips the ORM's per-row converters and
    model instances: the time comes as text (formatted by PostgreSQL; SQLite's stored text, read
    without the driver's converter), JSON as text.
    """
    from django.db import connections

    connection = connections[queryset.db]
    pg = connection.vendor == "postgresql"
    time_column = _UtcText("occurred_at") if pg else Cast("occurred_at", TextField())
    columns = ["_t" if name == "occurred_at" else name for name in _COLUMNS]
    sql, params = queryset.annotate(_t=time_column).values_list(*columns).query.sql_with_params()

    def rows() -> Iterator[tuple]:
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            if not pg:
                while True:
                    batch = cursor.fetchmany(CHUNK_SIZE)
                    if not batch:
                        break
                    yield from batch
                return
            # PostgreSQL: the next batch is fetched by a second thread (same cursor, same
            # transaction and RLS scope; only that thread touches the cursor until the end) while
            # this one hashes the current batch, so the server's time overlaps the hashing.
            # Leaving early (a failed check) waits for the fetch in flight before the cursor closes.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mamori-verify-read") as reader:
                pending = reader.submit(cursor.fetchmany, CHUNK_SIZE)
                while True:
                    batch = pending.result()
                    if not batch:
                        break
                    pending = reader.submit(cursor.fetchmany, CHUNK_SIZE)
                    yield from batch

    return rows(), {"loads": _loads, "time_text": None if pg else _time_text, "ip_text": _ip_text}


def stream_prepared(queryset, chain: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Rows of ``queryset`` as ``(payload, stored_hash)`` for ``verify_prepared`` (payload dicts
    holding exactly ``CHAIN_FIELDS``, decoded as ``verify_rows`` decodes them)."""
    rows, decode = stream_rows(queryset)
    loads, time_text = decode["loads"], decode["time_text"]
    keys = _PAYLOAD_KEYS
    for row in rows:
        payload = dict(zip(keys, row))  # noqa: B905 - the row ends with the hash
        payload["chain"] = chain
        if time_text is not None:
            payload["occurred_at"] = time_text(payload["occurred_at"])
        for name in ("before", "after"):
            if payload[name] is not None:
                payload[name] = loads(payload[name])
        if payload["ip"] is not None:
            payload["ip"] = _ip_text(payload["ip"])
        yield payload, row[-1]


def stream_payloads(queryset, chain: str) -> Iterator[dict[str, Any]]:
    """Rows of ``queryset`` as payload dicts with ``hash`` (accepted by ``verify_chain``)."""
    for payload, hash_ in stream_prepared(queryset, chain):
        payload["hash"] = hash_
        yield payload


def _checkpoint_reason(chain: str, message: str) -> str:
    """Name the key when the latest retention checkpoint is signed by a key this provider does not know."""
    from mamori.audit import signing
    from mamori.evidence.models import AuditCheckpoint

    key_id = AuditCheckpoint.objects.filter(chain=chain).order_by("-purged_through_seq") \
        .values_list("key_id", flat=True).first()
    if key_id and signing.public_key_for(key_id) is None:
        return f"{message}: {signing.describe_failure(signing.UNKNOWN_KEY, key_id)}"
    return message


def verify_stored_chain(queryset, chain: str, label: str) -> ChainReport:
    """Verify one chain whose events ``queryset`` selects (already scoped to the chain)."""

    def fail(seq: int | None, reason: str, count: int = 0, last_seq: int = 0, digests: int = 0) -> ChainReport:
        return ChainReport(chain, label, False, seq, reason, count, last_seq, digests)

    head = ChainHead.objects.filter(name=chain).first()
    head_seq = head.last_seq if head else 0
    digests = list(AuditDigest.objects.filter(chain=chain, up_to_seq__lte=head_seq).order_by("up_to_seq"))
    beyond = AuditDigest.objects.filter(chain=chain, up_to_seq__gt=head_seq).order_by("up_to_seq").first()
    for digest in digests + ([beyond] if beyond else []):
        problem = digest_problem(digest)
        if problem is not None:
            return fail(digest.up_to_seq, f"digest at seq {digest.up_to_seq}: {problem}")
    unsealed = queryset.filter(seq__isnull=True).order_by("id").values_list("id", flat=True).first()
    if unsealed is not None:
        return fail(None, f"event id {unsealed} is not sealed into the chain (inserted without sequence number)")

    sealed = queryset.filter(seq__isnull=False)
    first_seq = sealed.order_by("seq").values_list("seq", flat=True).first()
    if head is None and first_seq is not None:
        return fail(first_seq, "the chain head is missing although the chain has events")
    start_seq, start_hash = 1, GENESIS_HASH
    # A chain whose oldest events were purged starts at the checkpoint digest just before its first
    # remaining event (or, when every event was purged, at the checkpoint at the head).
    anchor_seq = first_seq - 1 if first_seq is not None else head_seq
    if anchor_seq > 0:
        anchor = next((d for d in digests if d.up_to_seq == anchor_seq), None)
        if anchor is not None:
            start_seq, start_hash = anchor_seq + 1, anchor.head_hash
        else:  # the signed retention checkpoint (mamori.evidence) marks where the chain now starts
            from mamori.evidence.retention import CheckpointInvalid, latest_checkpoint

            try:
                checkpoint = latest_checkpoint(chain)
            except CheckpointInvalid as exc:
                return fail(first_seq, _checkpoint_reason(chain, str(exc)))
            if checkpoint is not None and checkpoint[0] == first_seq:
                start_seq, start_hash = checkpoint
    expected = {d.up_to_seq: d for d in digests if d.up_to_seq >= start_seq}
    mismatch: list[int] = []

    def check_digest(seq: int, hash_: str) -> None:
        digest = expected.get(seq)
        if digest is not None and digest.head_hash != hash_ and not mismatch:
            mismatch.append(seq)

    rows, decode = stream_rows(sealed.filter(seq__lte=head_seq).order_by("seq"))
    result = verify_rows(rows, chain, start_seq=start_seq, start_hash=start_hash,
                         on_event=check_digest if expected else None, **decode)
    n = len(digests)
    if mismatch and (result.ok or mismatch[0] < (result.first_bad_seq or 0)):
        earlier = [d.up_to_seq for d in digests if d.up_to_seq < mismatch[0]]
        low = (earlier[-1] + 1) if earlier else start_seq
        return fail(low, f"chain rewritten: the signed digest at seq {mismatch[0]} does not match the "
                         f"recomputed hash (changed between seq {low} and {mismatch[0]})", result.count,
                    result.last_seq, n)
    if not result.ok:
        return fail(result.first_bad_seq, result.reason, result.count, result.last_seq, n)
    if beyond is not None:
        return fail(result.last_seq + 1, f"tail truncated: a signed digest covers up to seq {beyond.up_to_seq} "
                                         f"but the chain head is at seq {head_seq}", result.count, result.last_seq, n)
    if result.last_seq != head_seq:
        return fail(result.last_seq + 1, f"tail truncated: events {result.last_seq + 1}–{head_seq} are missing "
                                         f"(the chain head is at seq {head_seq})", result.count, result.last_seq, n)
    if head is not None and head_seq and result.last_hash != head.last_hash:
        return fail(head_seq, "the newest event's hash differs from the recorded chain head", result.count,
                    result.last_seq, n)
    # Events appended behind the writer's back (sequence numbers past the head, re-read now so a
    # concurrent legitimate write is not mistaken for one).
    head_now = ChainHead.objects.filter(name=chain).values_list("last_seq", flat=True).first() or 0
    extra = sealed.filter(seq__gt=head_now).order_by("seq").values_list("seq", flat=True).first()
    if extra is not None:
        return fail(extra, f"event at seq {extra} is beyond the chain head (seq {head_now}): inserted",
                    result.count, result.last_seq, n)
    return ChainReport(chain, label, True, None, "", result.count, result.last_seq, n)


def verify_tenant_chain(tenant) -> ChainReport:
    """Verify ``tenant``'s chain inside its tenant context (RLS applies)."""
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        return verify_stored_chain(AuditEvent.objects.all(), chain_name(tenant.pk), tenant.slug)


def verify_provider_chain() -> ChainReport:
    with transaction.atomic():
        return verify_stored_chain(ProviderEvent.objects.all(), chain_name(None), "provider")


def verify_across_tenants(tenants: Iterable | None = None, *, provider: bool = True,
                          record: bool = True, actor=None) -> list[ChainReport]:
    """Verify the chains of ``tenants`` (default: every tenant) and, with ``provider``, the provider
    chain. Records ``audit.verified`` in the provider log unless ``record`` is false."""
    from mamori.audit.events import Actor, record_provider_event
    from mamori.tenancy.actions import list_tenants_across_tenants

    if tenants is None:
        tenants = list_tenants_across_tenants()
    reports = [verify_tenant_chain(tenant) for tenant in tenants]
    if provider:
        reports.append(verify_provider_chain())
    if record:
        failed = [{"chain": r.chain, "label": r.label, "first_bad_seq": r.first_bad_seq, "reason": r.reason}
                  for r in reports if not r.ok]
        record_provider_event(
            "audit.verified", actor=actor or Actor.system("audit verify"),
            after={"ok": not failed, "chains": len(reports), "events": sum(r.count for r in reports),
                   "failed": failed[:20]},
        )
    return reports
