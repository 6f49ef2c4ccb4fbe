"""The retention purge: remove the expired prefix of each chain, leave a signed checkpoint.

Only a whole prefix of a chain is ever removed (sequence numbers up to N, no
holes): the purge finds the oldest event that must still be kept and removes
everything before it. An older event that has expired but sits after a kept one
stays until everything before it has expired too (for example, with sign-in
history kept for the contract's life, nothing after the first sign-in goes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max, Min, Q, QuerySet

from mamori.evidence import retention


@dataclass(frozen=True)
class PurgePlan:
    chain: str
    purged_through_seq: int
    hash_at_seq: str
    removed_count: int


@dataclass
class PurgeReport:
    dry_run: bool
    plans: list[tuple[str, PurgePlan]] = field(default_factory=list)  # (tenant slug or "provider", plan)

    @property
    def removed_count(self) -> int:
        return sum(plan.removed_count for _who, plan in self.plans)


def _expired_q(policy: dict[str, int], now: datetime) -> Q:
    names = retention.category_actions()
    expired = Q(pk__in=[])
    for category, days in policy.items():
        limit = retention.cutoff(days, now)
        if limit is not None and names.get(category):
            expired |= Q(action__in=names[category], occurred_at__lt=limit)
    return expired


def plan_purge(events: QuerySet, chain: str, expired: Q) -> PurgePlan | None:
    """The longest prefix of ``events`` (one chain) in which every event has expired."""
    sealed = events.filter(seq__isnull=False)
    first_kept = sealed.exclude(expired).aggregate(first=Min("seq"))["first"]
    if first_kept is None:
        through = sealed.aggregate(last=Max("seq"))["last"]
    else:
        through = first_kept - 1
    if not through or through < 1:
        return None
    last = sealed.filter(seq=through).values_list("hash", flat=True).first()
    removed = sealed.filter(seq__lte=through).count()
    if last is None or removed == 0:
        return None
    return PurgePlan(chain, through, last, removed)


def tenant_plan(now: datetime) -> PurgePlan | None:
    """The purge plan of the active tenant's log under its effective policy."""
    from mamori.audit.canonical import chain_name
    from mamori.audit.models import AuditEvent
    from mamori.tenancy.context import require_tenant

    tenant = require_tenant()
    return plan_purge(AuditEvent.objects.all(), chain_name(tenant.pk),
                      _expired_q(retention.tenant_policy(), now))


def provider_plan(now: datetime) -> PurgePlan | None:
    """The provider log: every event counts as category ``provider``."""
    from mamori.audit.models import ProviderEvent

    limit = retention.cutoff(retention.default_days(retention.PROVIDER_CATEGORY), now)
    if limit is None:
        return None
    return plan_purge(ProviderEvent.objects.all(), "provider", Q(occurred_at__lt=limit))


def delete_prefix(events: QuerySet, through: int, batch: int = 20_000) -> int:
    """Delete ``seq <= through`` in batches (oldest first). Caller holds ``allow_purge()``."""
    removed = 0
    low = events.filter(seq__isnull=False).aggregate(low=Min("seq"))["low"]
    while low is not None and low <= through:
        high = min(low + batch - 1, through)
        count, _detail = events.filter(seq__gte=low, seq__lte=high).delete()
        removed += count
        low = high + 1
    return removed
