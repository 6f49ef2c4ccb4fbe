"""Fast sealed audit events for tests and benchmarks: pre-hashed rows, bulk inserted.

Builds the same chain the writer would (``mamori.audit.chain``), continuing from
the chain head, so ``mamori audit verify`` and the evidence verifier accept it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mamori.audit.canonical import GENESIS_HASH, chain_name, event_hash, format_time
from mamori.audit.models import AuditEvent, ChainHead
from mamori.tenancy.context import tenant_context


def bulk_events(tenant, n: int, *, start: datetime, step: timedelta = timedelta(seconds=1),
                actions: tuple[str, ...] = ("record.created",), batch: int = 5000,
                label: str = "Record {i}") -> tuple[int, int]:
    """Append ``n`` sealed events to ``tenant``'s chain; returns (first_seq, last_seq)."""
    chain = chain_name(tenant.pk)
    with tenant_context(tenant):
        head = ChainHead.objects.filter(name=chain).first()
    seq = head.last_seq if head else 0
    prev = (head.last_hash or GENESIS_HASH) if head and head.last_seq else GENESIS_HASH
    first = seq + 1
    done = 0
    while done < n:
        rows = []
        for i in range(done, min(n, done + batch)):
            seq += 1
            fields = {
                "occurred_at": start + step * i, "action": actions[i % len(actions)],
                "actor_type": "system", "actor_id": "", "actor_label": "bench",
                "target_type": "records.record", "target_id": str(i), "target_label": label.format(i=i),
                "before": None, "after": {"n": i, "title": f"title {i}"}, "ip": None, "user_agent": "",
                "request_id": "", "seq": seq, "prev_hash": prev,
            }
            payload = dict(fields, chain=chain, occurred_at=format_time(fields["occurred_at"]))
            prev = event_hash(payload)
            rows.append(AuditEvent(tenant=tenant, hash=prev, **fields))
        with tenant_context(tenant):
            AuditEvent.objects.bulk_create(rows)
            ChainHead.objects.update_or_create(name=chain, defaults={"last_seq": seq, "last_hash": prev})
        done += len(rows)
    return first, seq
