"""Delivery to a real HTTP server on loopback: order, batches, signatures, retries, disable, resume."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from mamori.audit.events import Actor, record_event
from mamori.audit.models import AuditEvent
from mamori.siem import actions
from mamori.siem.models import WebhookDelivery, WebhookSubscription
from mamori.siem.tasks import backoff_seconds
from mamori.tenancy.context import request_scope, tenant_context

pytestmark = pytest.mark.django_db(transaction=True)


def write_events(tenant, admin, n: int, prefix: str = "bulk") -> None:
    """``n`` events, each in its own committed transaction (as n separate actions would)."""
    for i in range(n):
        with request_scope(), tenant_context(tenant):
            record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", str(i), f"{prefix}-{i}"))


def subscribe(tenant, admin, endpoint, **kw) -> WebhookSubscription:
    with tenant_context(tenant):
        subscription, secret = actions.create_subscription(actor=Actor.for_user(admin), url=endpoint.url, **kw)
    endpoint.secret = secret
    return subscription


def reload(tenant, subscription) -> WebhookSubscription:
    with tenant_context(tenant):
        return WebhookSubscription.objects.get(pk=subscription.pk)


def tenant_seqs(tenant, after: int = 0) -> list[int]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(seq__gt=after).order_by("seq").values_list("seq", flat=True))


def test_events_arrive_in_order_exactly_once_after_retries(tenant, admin, webhook_server, run_tasks):
    webhook_server.fail_first = 3
    subscription = subscribe(tenant, admin, webhook_server)
    start = subscription.last_acknowledged_seq
    write_events(tenant, admin, 250)
    # Writing events did no network I/O and queued one task, not one per event.
    assert webhook_server.requests == [] and webhook_server.rejected == 0
    assert DBTaskResult.objects.filter(task_path__endswith="deliver_subscription").count() == 1

    runs = run_tasks()

    delays = [round(r.delay) for r in runs if r.task == "deliver_subscription" and r.delay > 0]
    assert delays == [1, 2, 4]  # exponential back-off after each of the 3 failures
    assert webhook_server.rejected == 3 and webhook_server.bad_signatures == 0
    expected = tenant_seqs(tenant, after=start)
    assert len(expected) == 251  # siem.subscription_created + 250 events
    assert webhook_server.seqs == expected  # in order, each exactly once
    bodies = webhook_server.requests
    assert all(len(b["events"]) <= 100 for b in bodies) and len(bodies) == 3
    assert all(b["tenant"] == "acme" for b in bodies)
    assert [(b["first_seq"], b["last_seq"]) for b in bodies] == [
        (b["events"][0]["seq"], b["events"][-1]["seq"]) for b in bodies]
    assert bodies[0]["events"][0]["action"] == "siem.subscription_created"
    assert bodies[0]["events"][0]["occurred_at"].endswith("Z")
    subscription = reload(tenant, subscription)
    assert subscription.last_acknowledged_seq == expected[-1]
    assert subscription.consecutive_failures == 0 and subscription.task_queued_at is None
    with tenant_context(tenant):
        log = list(WebhookDelivery.objects.order_by("attempted_at", "id"))
    assert [d.status_code for d in log] == [500, 500, 500, 200, 200, 200]
    assert log[-1].last_seq == expected[-1]

    # Later events are delivered by a new task; nothing is sent twice.
    write_events(tenant, admin, 5, prefix="later")
    run_tasks()
    assert webhook_server.seqs == tenant_seqs(tenant, after=start)


def test_unreachable_endpoint_is_disabled_with_mail_then_resumes_without_loss(
        tenant, admin, webhook_server, run_tasks, settings, mailoutbox):
    settings.MAMORI_WEBHOOK_MAX_FAILURES = 8
    # Nothing listens on this port (the socket is bound but never accepts connections… closed at once).
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    probe.close()
    with tenant_context(tenant):
        subscription, secret = actions.create_subscription(actor=Actor.for_user(admin), url=dead_url)
    webhook_server.secret = secret
    start = subscription.last_acknowledged_seq
    write_events(tenant, admin, 30)

    runs = run_tasks()

    delays = [round(r.delay) for r in runs if r.task == "deliver_subscription" and r.delay > 0]
    assert delays == [backoff_seconds(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 64]
    subscription = reload(tenant, subscription)
    assert not subscription.active and subscription.consecutive_failures == 8
    assert "8" in subscription.disabled_reason
    assert subscription.last_acknowledged_seq == start  # nothing acknowledged, nothing skipped
    [mail] = mailoutbox
    assert mail.to == [admin.email] or admin.email in mail.to
    assert dead_url in mail.body and str(start) in mail.body
    with tenant_context(tenant):
        assert AuditEvent.objects.filter(action="siem.subscription_disabled", actor_type="system").count() == 1
        assert WebhookDelivery.objects.filter(subscription=subscription, ok=False).count() == 8
    # Events written while it is disabled queue nothing.
    write_events(tenant, admin, 3, prefix="while-disabled")
    assert run_tasks() == []

    # The admin points it at a working endpoint and enables it: everything since `start` arrives.
    with tenant_context(tenant):
        actions.update_subscription(actor=Actor.for_user(admin), subscription_id=subscription.pk,
                                    url=webhook_server.url)
        actions.enable_subscription(actor=Actor.for_user(admin), subscription_id=subscription.pk)
    run_tasks()
    assert webhook_server.seqs == tenant_seqs(tenant, after=start)
    assert reload(tenant, subscription).last_acknowledged_seq == tenant_seqs(tenant)[-1]


def test_event_filter_sends_only_matching_prefixes_and_moves_past_the_rest(tenant, admin, webhook_server, run_tasks):
    subscription = subscribe(tenant, admin, webhook_server, event_prefixes=["label."])
    write_events(tenant, admin, 4)  # record.updated: filtered out
    with tenant_context(tenant):
        from mamori.records.actions import create_label

        create_label(actor=Actor.for_user(admin), name="siem-label")
    write_events(tenant, admin, 2)
    run_tasks()
    assert [e["action"] for b in webhook_server.requests for e in b["events"]] == ["label.created"]
    assert reload(tenant, subscription).last_acknowledged_seq == tenant_seqs(tenant)[-1]


def test_test_event_is_synthetic_and_logged(tenant, admin, webhook_server, run_tasks):
    subscription = subscribe(tenant, admin, webhook_server, event_prefixes=["auth."])
    with tenant_context(tenant):
        actions.send_test_event(actor=Actor.for_user(admin), subscription_id=subscription.pk)
    run_tasks()
    [body] = webhook_server.requests
    assert body["test"] is True and body["first_seq"] is None
    [event] = body["events"]
    assert event["action"] == "siem.test" and event["seq"] is None and event["hash"] == ""
    with tenant_context(tenant):
        delivery = WebhookDelivery.objects.get(subscription=subscription)
        assert delivery.is_test and delivery.ok and delivery.status_code == 200
        assert AuditEvent.objects.filter(action="siem.test_sent").count() == 1
        assert not AuditEvent.objects.filter(action="siem.test").exists()  # never in the chain
    # The test is not acknowledged as an event; the filtered-out siem.* events are moved past.
    assert reload(tenant, subscription).last_acknowledged_seq == tenant_seqs(tenant)[-1]


def test_other_tenants_events_never_reach_a_subscription(tenant, admin, other_tenant, outsider, webhook_server,
                                                         run_tasks):
    subscription = subscribe(tenant, admin, webhook_server)
    write_events(other_tenant, outsider, 5, prefix="globex")
    write_events(tenant, admin, 2, prefix="acme")
    run_tasks()
    labels = [e["target_label"] for b in webhook_server.requests for e in b["events"]]
    assert not any("globex" in label for label in labels)
    assert {b["tenant"] for b in webhook_server.requests} == {"acme"}
    assert reload(tenant, subscription).last_acknowledged_seq == tenant_seqs(tenant)[-1]


def test_a_rolled_back_action_queues_and_sends_nothing(tenant, admin, webhook_server, run_tasks):
    subscribe(tenant, admin, webhook_server)
    run_tasks()
    sent = list(webhook_server.seqs)
    with pytest.raises(RuntimeError):
        with tenant_context(tenant), transaction.atomic():
            record_event("record.updated", actor=Actor.for_user(admin), target=("records.record", "1", "x"))
            raise RuntimeError
    assert run_tasks() == []
    assert webhook_server.seqs == sent


def test_payload_is_signed_json(tenant, admin, webhook_server, run_tasks):
    subscribe(tenant, admin, webhook_server)
    run_tasks()
    [body] = webhook_server.requests
    assert set(body) == {"tenant", "events", "first_seq", "last_seq"}
    assert json.dumps(body)  # parsed by the server after the HMAC check passed
    assert webhook_server.bad_signatures == 0


def test_https_to_a_plain_http_server_is_a_logged_failure_not_a_crash(webhook_server):
    from mamori.siem.delivery import post

    outcome = post(webhook_server.url.replace("http://", "https://"), "s" * 64, b"{}", timeout=5)
    assert not outcome.ok and outcome.status_code is None and "SSL" in outcome.error
    assert webhook_server.requests == []


def test_refused_connection_is_a_failure_not_a_crash(webhook_server):
    from mamori.siem.delivery import post

    outcome = post("http://127.0.0.1:1/closed", "s" * 64, b"{}", timeout=2)
    assert not outcome.ok and outcome.status_code is None
