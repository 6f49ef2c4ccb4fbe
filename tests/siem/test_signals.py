"""The after-commit trigger: whether a tenant has a subscription is decided once per
transaction, and a decision taken in a transaction that rolled back is never reused."""

from __future__ import annotations

import pytest
from django.db import transaction

from mamori.audit.events import Actor, record_event
from mamori.tenancy.context import request_scope, tenant_context

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def without_writer_facts(monkeypatch):
    """The writer paths that read no tenant facts (SQLite, batches): the receiver asks itself."""
    from mamori.audit import chain

    monkeypatch.setattr(chain, "_TENANT_FACTS", {})
    monkeypatch.setattr(chain, "_STATEMENTS", {})


def test_a_decision_from_a_rolled_back_transaction_is_not_reused(tenant, admin, monkeypatch, without_writer_facts):
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


def test_one_decision_per_transaction(tenant, admin, monkeypatch, without_writer_facts):
    from mamori.siem import signals

    asked: list[int] = []
    real = signals._subscribed
    monkeypatch.setattr(signals, "_subscribed", lambda c, t: asked.append(t) or real(c, t))
    with request_scope(), tenant_context(tenant), transaction.atomic():
        for i in range(5):
            record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", str(i), "x"))
    assert asked == [tenant.pk]


def test_the_writers_statement_answers_for_a_single_event_on_postgresql(tenant, admin, monkeypatch, settings):
    """PostgreSQL: the one-event writer reads "has the tenant an active subscription" in its own
    statement, so the receiver asks nothing; a disabled subscription does not count."""
    from django.db import connection

    from mamori.siem import actions, signals

    if connection.vendor != "postgresql":
        pytest.skip("the one-event writer statement is PostgreSQL's")
    settings.MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    flushed: list[int] = []  # the receiver's after-commit trigger (no subscription id)

    def queue_delivery(tenant, subscription_id=None):
        if subscription_id is None:
            flushed.append(tenant.pk)
        return 1

    monkeypatch.setattr("mamori.siem.tasks.queue_delivery", queue_delivery)
    asked: list[int] = []
    monkeypatch.setattr(signals, "_subscribed", lambda c, t: asked.append(t) or False)
    actor = Actor.for_user(admin)
    with request_scope(), tenant_context(tenant), transaction.atomic():
        record_event("record.updated", actor=actor, target=("records.record", "1", "one"))
    assert flushed == [] and asked == []
    with request_scope(), tenant_context(tenant), transaction.atomic():
        sub, _secret = actions.create_subscription(actor=actor, url="http://127.0.0.1:9/hook")
    flushed.clear()  # (the action queues its own delivery)
    with request_scope(), tenant_context(tenant), transaction.atomic():
        record_event("record.updated", actor=actor, target=("records.record", "2", "two"))
    assert flushed == [tenant.pk] and asked == []
    with request_scope(), tenant_context(tenant), transaction.atomic():
        actions.disable_subscription(actor=actor, subscription_id=sub.pk)
    flushed.clear()
    with request_scope(), tenant_context(tenant), transaction.atomic():
        record_event("record.updated", actor=actor, target=("records.record", "3", "three"))
    assert flushed == [] and asked == []
