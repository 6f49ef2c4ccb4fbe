"""Reads of support access requests, for the tenant console and the provider console.

Tenant console: the active tenant's requests (the request runs in its context).
Provider console: a staff member's own requests, read tenant by tenant inside each
tenant's context (``tenant_context``), so row-level security applies as everywhere else.
The tenants to look in come from the provider log (``support.access_requested`` events of
that staff member), never from a query across every tenant's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from mamori.access.errors import NotFound
from mamori.audit.models import ProviderEvent
from mamori.support.models import SupportAccessRequest
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant

State = SupportAccessRequest.State


# --- tenant console -----------------------------------------------------------------------------

def access_request(pk) -> SupportAccessRequest:
    """A request of the active tenant, or ``NotFound``."""
    grant = SupportAccessRequest.objects.filter(pk=pk).first()
    if grant is None:
        raise NotFound
    return grant


def pending_requests() -> QuerySet[SupportAccessRequest]:
    return SupportAccessRequest.objects.filter(state=State.REQUESTED).order_by("requested_at", "pk")


def active_grants(now=None) -> QuerySet[SupportAccessRequest]:
    now = now or timezone.now()
    return SupportAccessRequest.objects.filter(state=State.APPROVED, approved_until__gt=now).order_by(
        "approved_until", "pk")


def history(limit: int = 100) -> list[SupportAccessRequest]:
    now = timezone.now()
    rows = SupportAccessRequest.objects.exclude(state=State.REQUESTED).select_related("decided_by", "ended_by")
    return [g for g in rows.order_by("-requested_at", "-pk")[:limit] if not g.is_active(now)]


# --- provider console ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StaffGrant:
    tenant: Tenant
    grant: SupportAccessRequest

    @property
    def can_open(self) -> bool:
        return self.grant.is_active()


def _tenants_of_staff(staff) -> list[Tenant]:
    ids = (ProviderEvent.objects.filter(action="support.access_requested", actor_id=str(staff.pk),
                                        tenant_ref__isnull=False)
           .values_list("tenant_ref", flat=True).distinct())
    return list(Tenant.objects.filter(pk__in=list(ids)).exclude(status=Tenant.Status.PURGED).order_by("slug"))


def staff_requests_across_tenants(staff, limit: int = 200) -> list[StaffGrant]:
    """The staff member's own requests in every tenant they asked, newest first."""
    found: list[StaffGrant] = []
    for tenant in _tenants_of_staff(staff):
        with tenant_context(tenant):
            rows = list(SupportAccessRequest.objects.filter(staff_id=staff.pk).order_by("-requested_at")[:limit])
        found.extend(StaffGrant(tenant, row) for row in rows)
    found.sort(key=lambda item: item.grant.requested_at, reverse=True)
    return found[:limit]


def staff_grant(staff, slug: str, grant_id) -> StaffGrant:
    """One of the staff member's own requests, or ``NotFound`` (other staff's, other tenant's, unknown)."""
    tenant = Tenant.objects.filter(slug=slug).exclude(status=Tenant.Status.PURGED).first()
    try:
        pk = int(grant_id)
    except (TypeError, ValueError):
        raise NotFound from None
    if tenant is None:
        raise NotFound
    with tenant_context(tenant):
        grant = SupportAccessRequest.objects.filter(pk=pk, staff_id=staff.pk).first()
    if grant is None:
        raise NotFound
    return StaffGrant(tenant, grant)


def requestable_tenants() -> QuerySet[Tenant]:
    return Tenant.objects.filter(status__in=Tenant.OPEN_STATUSES).order_by("slug")
