"""The purge's view of incident deliveries: the rows stay (the provider's record of when the
tenant was told), the addresses of the purged tenant's people go (``walk.register_provider_scrub``)."""

from __future__ import annotations

PURGED_ADDRESS = "purged"


def scrub_incident_deliveries(tenant_id: int) -> int:
    from mamori.incidents.models import Delivery

    return (Delivery.objects.filter(affected__tenant_id=tenant_id).exclude(address="")
            .exclude(address=PURGED_ADDRESS).update(address=PURGED_ADDRESS))
