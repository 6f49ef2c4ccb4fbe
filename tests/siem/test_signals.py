"""The after-commit trigger: whether a tenant has a subscription is decided once per
transaction, and a decision taken in a transaction that rolled back is never reused."""

from __future__ import annotations

import pytest
from django.db import transaction

from mamori.audit.events import Actor, record_event
from mamori.tenancy.context import request_scope, tenant_context

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_decision_from_a_rolled_back_transaction_is_not_reused(tenant, admin, monkeypatch):
    from mamori.siem import signals

    queued: list[int] = []
    monkeypatch.setattr("mamori.siem.tasks.queue_delivery", lambda t, *a, **k: queued.append(t.pk) or 1)
    # The tenant has no subscription at first; another process adds one in between.
    answers = iter([False, True])
    monkeypatch.setattr(signals, "_subscribed", lambda connection, tenant_id: next(answers))
    actor = Actor.for_user(admin)
    # 1. A transaction decides "no subscription" for the tenant, then rolls back.
    with pytest.raises(RuntimeError), request_scope(), tenant_context(tenant), transaction.atomic():
        record_event("record.updated", actor=actor, target=("records.record", "1", "one"))
        raise RuntimeError("the action failed")
    # 2. The next transaction on the same connection asks again, so its event is delivered.
    with request_scope(), tenant_context(tenant), transaction.atomic():
        record_event("record.updated", actor=actor, target=("records.record", "2", "two"))
    assert queued == [tenant.pk]


def test_one_decision_per_transaction(tenant, admin, monkeypatch):
    from mamori.siem import signals

    asked: list[int] = []
    real = signals._subscribed
    monkeypatch.setattr(signals, "_subscribed", lambda c, t: asked.append(t) or real(c, t))
    with request_scope(), tenant_context(tenant), transaction.atomic():
        for i in range(5):
            record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", str(i), "x"))
    assert asked == [tenant.pk]
