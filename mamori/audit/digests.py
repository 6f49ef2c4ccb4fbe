"""Signed digests of the audit chains.

A digest states "chain C had head hash H at sequence N, at time T", signed with
the provider's Ed25519 key (``mamori.audit.signing``); the row keeps the signer's
``key_id``, so digests signed before a key rotation verify with the retired key. The signed message is
``canonical_bytes({"chain", "up_to_seq", "head_hash", "created_at"})``.
``seal_daily_digests`` (a task; ``mamori audit digest`` runs it now) writes one
digest per chain that gained events since its last digest. Digests are not audit
events (that would recurse); each run writes one provider-log event
``audit.digest_created`` with the counts.

A digest also serves as the checkpoint of a retention purge: write one at the
last purged sequence number (``create_digest(chain, up_to_seq=n)``) before
deleting events 1…n; ``mamori audit verify`` then starts the chain there.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from mamori.audit.canonical import canonical_bytes, chain_name, format_time
from mamori.audit.models import AuditDigest, ChainHead
from mamori.audit.signing import check, describe_failure, sign, verify


def digest_message(*, chain: str, up_to_seq: int, head_hash: str, created_at: Any) -> bytes:
    created = created_at if isinstance(created_at, str) else format_time(created_at)
    return canonical_bytes({"chain": chain, "up_to_seq": int(up_to_seq), "head_hash": head_hash,
                            "created_at": created})


def verify_digest(digest: AuditDigest, public_key_pem: str | None = None) -> bool:
    message = digest_message(chain=digest.chain, up_to_seq=digest.up_to_seq, head_hash=digest.head_hash,
                             created_at=digest.created_at)
    return verify(message, digest.key_id, digest.signature, public_key_pem)


def digest_problem(digest: AuditDigest) -> str | None:
    """None when the digest's signature verifies with the key named by its ``key_id`` (the current
    or a retired provider key); otherwise the reason, naming the key id."""
    message = digest_message(chain=digest.chain, up_to_seq=digest.up_to_seq, head_hash=digest.head_hash,
                             created_at=digest.created_at)
    failure = check(message, digest.key_id, digest.signature)
    return None if failure is None else describe_failure(failure, digest.key_id)


def create_digest(chain: str, *, up_to_seq: int | None = None, head_hash: str | None = None) -> AuditDigest | None:
    """Sign the chain's head (or ``up_to_seq``/``head_hash`` given by the caller, e.g. a purge
    checkpoint computed from the events). Returns None when nothing new is to be signed."""
    with transaction.atomic():
        if up_to_seq is None:
            head = ChainHead.objects.select_for_update().filter(name=chain).first()
            if head is None or head.last_seq == 0:
                return None
            up_to_seq, head_hash = head.last_seq, head.last_hash
        elif head_hash is None:
            raise ValueError("create_digest(up_to_seq=…) needs the head_hash at that sequence number")
        existing = AuditDigest.objects.filter(chain=chain, up_to_seq=up_to_seq).first()
        if existing is not None:
            return None
        previous = AuditDigest.objects.filter(chain=chain, up_to_seq__lt=up_to_seq).order_by("-up_to_seq").first()
        created_at = timezone.now()
        key_id, signature = sign(digest_message(chain=chain, up_to_seq=up_to_seq, head_hash=head_hash,
                                                created_at=created_at))
        return AuditDigest.objects.create(
            chain=chain, up_to_seq=up_to_seq, head_hash=head_hash,
            event_count=up_to_seq - (previous.up_to_seq if previous else 0),
            created_at=created_at, key_id=key_id, signature=signature,
        )


def seal_digests_now() -> dict[str, int]:
    """One digest for every chain (tenants and provider) with events since its last digest."""
    from mamori.audit.events import Actor, record_provider_event
    from mamori.tenancy.actions import list_tenants_across_tenants

    chains = [chain_name(pk) for pk in list_tenants_across_tenants().values_list("pk", flat=True)]
    chains.append(chain_name(None))
    created = events = 0
    for chain in chains:
        digest = create_digest(chain)
        if digest is not None:
            created += 1
            events += digest.event_count
    summary = {"chains": len(chains), "digests": created, "events": events}
    if created:
        # After the provider digest, so this event is covered by the next run's digest.
        record_provider_event("audit.digest_created", actor=Actor.system("audit digest"), after=summary)
    return summary


@task()
def seal_daily_digests() -> dict[str, int]:
    """Task form of ``seal_digests_now`` (scheduled daily by the schedule table of a later issue)."""
    return seal_digests_now()
