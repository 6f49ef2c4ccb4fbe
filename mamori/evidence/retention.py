"""Retention policy (18.1.3) and purge checkpoints.

Each audit event falls in one category (``EventType.category``: operation, signin,
api; every event of the provider log counts as ``provider``). The provider sets a
default number of days per category and bounds; a tenant admin may override a
tenant category inside the bounds. 0 days means "for the contract's life".

A purge only ever removes a *prefix* of a chain (sequence numbers 1…N, never a
hole), so it stops at the oldest event that must still be kept. It leaves a
signed ``AuditCheckpoint`` whose ``hash_at_seq`` is the ``prev_hash`` of the
first remaining event: ``latest_checkpoint(chain)`` gives ``mamori audit
verify`` the place to start from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from mamori.audit.canonical import canonical_bytes, format_time

TENANT_CATEGORIES = ("operation", "signin", "api")
PROVIDER_CATEGORY = "provider"


class CheckpointInvalid(ValueError):
    """A stored checkpoint's signature does not verify: its chain cannot be trusted."""


@dataclass(frozen=True)
class Bounds:
    min_days: int
    max_days: int  # 0 = no upper bound (keeping for the contract's life is allowed)

    def allows(self, days: int) -> bool:
        if days == 0:
            return self.max_days == 0
        return days >= self.min_days and (self.max_days == 0 or days <= self.max_days)

    def describe(self) -> str:
        if self.max_days == 0:
            return _("%(min)d days or more, or 0 (for the contract's life)") % {"min": self.min_days}
        return _("%(min)d to %(max)d days") % {"min": self.min_days, "max": self.max_days}


def default_days(category: str) -> int:
    return int(settings.AUDIT_RETENTION_DAYS[category])


def bounds(category: str) -> Bounds:
    low, high = settings.AUDIT_RETENTION_BOUNDS[category]
    return Bounds(int(low), int(high))


def tenant_policy() -> dict[str, int]:
    """Days per tenant category for the active tenant: its overrides, else the provider default."""
    from mamori.evidence.models import RetentionOverride

    policy = {category: default_days(category) for category in TENANT_CATEGORIES}
    for override in RetentionOverride.objects.all():
        policy[override.category] = override.days
    return policy


def category_actions() -> dict[str, list[str]]:
    """Registered event names per category."""
    from mamori.audit.registry import EVENT_TYPES

    names: dict[str, list[str]] = {}
    for event in EVENT_TYPES.values():
        names.setdefault(event.category, []).append(event.name)
    return names


def cutoff(days: int, now: datetime) -> datetime | None:
    """Events older than this have expired; None when kept for the contract's life."""
    return None if days <= 0 else now - timedelta(days=days)


# --- Checkpoints ----------------------------------------------------------------------------

def checkpoint_message(*, chain: str, purged_through_seq: int, hash_at_seq: str, removed_count: int,
                       created_at: datetime) -> bytes:
    """The bytes a checkpoint's signature covers (the standalone verifier builds the same)."""
    return canonical_bytes({
        "chain": chain, "purged_through_seq": purged_through_seq, "hash_at_seq": hash_at_seq,
        "removed_count": removed_count, "created_at": format_time(created_at),
    })


def checkpoint_dict(checkpoint) -> dict:
    return {
        "chain": checkpoint.chain, "purged_through_seq": checkpoint.purged_through_seq,
        "hash_at_seq": checkpoint.hash_at_seq, "removed_count": checkpoint.removed_count,
        "created_at": format_time(checkpoint.created_at), "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


def checkpoint_is_valid(checkpoint) -> bool:
    from mamori.audit import signing

    message = checkpoint_message(
        chain=checkpoint.chain, purged_through_seq=checkpoint.purged_through_seq,
        hash_at_seq=checkpoint.hash_at_seq, removed_count=checkpoint.removed_count,
        created_at=checkpoint.created_at)
    try:
        return bool(signing.verify(message, checkpoint.key_id, checkpoint.signature))
    except Exception:  # noqa: BLE001 — unknown key id, malformed signature: not valid
        return False


def latest_checkpoint(chain: str) -> tuple[int, str] | None:
    """``(start_seq, start_hash)`` to verify ``chain`` from, or None when nothing was purged.

    ``start_seq`` is the first sequence number that remains and ``start_hash`` the
    hash of the last removed event. Raises ``CheckpointInvalid`` when the latest
    checkpoint's signature does not verify (a forged checkpoint could hide a
    deleted prefix).
    """
    from mamori.evidence.models import AuditCheckpoint

    checkpoint = AuditCheckpoint.objects.filter(chain=chain).order_by("-purged_through_seq").first()
    if checkpoint is None:
        return None
    if not checkpoint_is_valid(checkpoint):
        raise CheckpointInvalid(
            f"checkpoint of chain {chain} through seq {checkpoint.purged_through_seq} has a bad signature")
    return checkpoint.purged_through_seq + 1, checkpoint.hash_at_seq
