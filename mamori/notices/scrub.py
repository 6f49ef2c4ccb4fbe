"""The purge's view of notice deliveries: the rows stay (the provider's record of having told
the tenant), the addresses of the purged tenant's people go (``walk.register_provider_scrub``)."""

from __future__ import annotations

from django.db.models import F, Value
from django.db.models.functions import Cast, Concat

PURGED_PREFIX = "purged:"


def scrub_notice_deliveries(tenant_id: int) -> int:
    from mamori.notices.models import NoticeDelivery

    rows = (NoticeDelivery.objects.filter(tenant_id=tenant_id).exclude(address="")
            .exclude(address__startswith=PURGED_PREFIX))
    # "purged:<row id>" keeps the (notice, tenant, channel, purpose, revision, address) rows unique.
    return rows.update(address=Concat(Value(PURGED_PREFIX), Cast(F("pk"), output_field=NoticeDelivery._meta
                                                                  .get_field("address"))))
