"""The purge anonymises the addresses that provider tables (notice and incident deliveries)
keep of a purged tenant's people, and the deletion certificate counts them."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.incidents.models import AffectedTenant, Delivery, Incident, IncidentUpdate
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle.purge import purge_tenant
from mamori.notices.models import Notice, NoticeDelivery
from mamori.tenancy.context import use_tenant


@pytest.fixture(autouse=True)
def _storage(storage):
    """Files of this test in a directory of its own (tests/conftest.py)."""


def _deliveries(tenant, other_tenant):
    now = timezone.now()
    notice = Notice.objects.create(title_ja="保守", title_en="Maintenance", state=Notice.State.PUBLISHED)
    for t, addresses in ((tenant, ["a@acme.example", "b@acme.example"]), (other_tenant, ["c@globex.example"])):
        for address in addresses:
            NoticeDelivery.objects.create(notice=notice, tenant=t, channel="mail", address=address)
        NoticeDelivery.objects.create(notice=notice, tenant=t, channel="dashboard", address="")
    incident = Incident.objects.create(title_ja="障害", title_en="Outage", severity="high",
                                       started_at=now, detected_at=now)
    update = IncidentUpdate.objects.create(incident=incident, text_ja="調査中", text_en="Investigating", public=True)
    for t, address in ((tenant, "a@acme.example"), (other_tenant, "c@globex.example")):
        affected = AffectedTenant.objects.create(incident=incident, tenant=t, policy="within_24h", deadline=now)
        Delivery.objects.create(affected=affected, update=update, channel="email", address=address)


def test_purge_anonymises_delivery_addresses_of_the_purged_tenant_only(tenant, admin, other_tenant):
    _deliveries(tenant, other_tenant)
    with use_tenant(tenant):
        acts.request_termination(actor=Actor.for_user(admin), confirm_slug=tenant.slug)
    with use_tenant(None):
        cert = purge_tenant(tenant, actor=Actor.system("test"), force=True)
        again = purge_tenant(tenant, actor=Actor.system("test"), force=True)  # idempotent
    assert again.pk == cert.pk
    kept = list(NoticeDelivery.objects.filter(tenant=tenant).values_list("address", flat=True))
    assert len(kept) == 3 and not any("@" in a for a in kept)
    assert sorted(a for a in kept if a) == sorted(f"purged:{pk}" for pk in NoticeDelivery.objects.filter(
        tenant=tenant, channel="mail").values_list("pk", flat=True))
    assert list(Delivery.objects.filter(affected__tenant=tenant).values_list("address", flat=True)) == ["purged"]
    # the other tenant keeps its records as they were
    assert list(NoticeDelivery.objects.filter(tenant=other_tenant, channel="mail")
                .values_list("address", flat=True)) == ["c@globex.example"]
    assert list(Delivery.objects.filter(affected__tenant=other_tenant)
                .values_list("address", flat=True)) == ["c@globex.example"]
    facts = json.loads(cert.document)["certificate"]
    assert facts["provider_records_anonymised"] == {"incidents.Delivery": 1, "notices.NoticeDelivery": 2}
