"""Delivery of audit events to SIEM webhooks (background tasks, ``django_tasks``).

One task owns a subscription at a time (``task_queued_at``): writing events
queues a task only when none is queued, running or waiting for a retry, so a
burst of events costs one task. The owner sends batches (≤ 100 events, in
``seq`` order) until nothing is pending, then lets go — and looks once more, so
an event committed while it let go is not left behind.

On a failure the owner schedules itself again after 1, 2, 4 … seconds (at most
one hour); after ``MAMORI_WEBHOOK_MAX_FAILURES`` failures in a row the
subscription is disabled and the tenant's admins get an e-mail. Nothing is
skipped: delivery always resumes after ``last_acknowledged_seq``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from mamori.audit.events import Actor
from mamori.siem import delivery
from mamori.siem.models import WebhookDelivery, WebhookSubscription
from mamori.siem.queries import latest_seq, pending_events
from mamori.tenancy.context import request_scope, tenant_context
from mamori.tenancy.models import Tenant

logger = logging.getLogger("mamori.siem")

MAX_BACKOFF_SECONDS = 3600
STALE_AFTER = timedelta(seconds=MAX_BACKOFF_SECONDS * 2)
BATCHES_PER_RUN = 50


def max_failures() -> int:
    return int(getattr(settings, "MAMORI_WEBHOOK_MAX_FAILURES", 8))


def backoff_seconds(failures: int) -> int:
    """1, 2, 4, … seconds after the 1st, 2nd, 3rd … failure; at most an hour."""
    return min(2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS)


def _claim(subscription_id: int, now: datetime) -> bool:
    """Take ownership of delivery unless a task already has it (or its claim went stale)."""
    return bool(WebhookSubscription.objects.filter(pk=subscription_id, active=True).filter(
        Q(task_queued_at__isnull=True) | Q(task_queued_at__lt=now - STALE_AFTER)
    ).update(task_queued_at=now))


def _tenant(tenant_id: int) -> Tenant | None:
    with request_scope():
        return Tenant.objects.filter(pk=tenant_id).first()


def queue_delivery(tenant: Tenant, subscription_id: int | None = None) -> int:
    """Queue a delivery task for each active subscription of ``tenant`` that has none.

    Runs after commit (never inside the action's transaction); returns how many were queued.
    """
    now = timezone.now()
    with request_scope(), tenant_context(tenant):
        ids = WebhookSubscription.objects.filter(active=True)
        if subscription_id is not None:
            ids = ids.filter(pk=subscription_id)
        claimed = [pk for pk in ids.values_list("id", flat=True) if _claim(pk, now)]
    for pk in claimed:
        deliver_subscription.enqueue(tenant_id=tenant.pk, subscription_id=pk)
    return len(claimed)


@task()
def deliver_subscription(*, tenant_id: int, subscription_id: int) -> str:
    """Deliver pending events of one subscription (see the module docstring)."""
    tenant = _tenant(tenant_id)
    if tenant is None:
        return "gone"
    return run_delivery(tenant, subscription_id)


def _release_or_continue(tenant: Tenant, subscription_id: int) -> bool:
    """Let go of the subscription; True when new events arrived meanwhile and we own it again."""
    with request_scope(), tenant_context(tenant):
        WebhookSubscription.objects.filter(pk=subscription_id).update(task_queued_at=None)
        subscription = WebhookSubscription.objects.filter(pk=subscription_id, active=True).first()
        if subscription is None or not pending_events(subscription).exists():
            return False
        return _claim(subscription_id, timezone.now())


def run_delivery(tenant: Tenant, subscription_id: int) -> str:
    for _batch in range(BATCHES_PER_RUN):
        with request_scope(), tenant_context(tenant):
            subscription = WebhookSubscription.objects.filter(pk=subscription_id).first()
            if subscription is None:
                return "gone"
            if not subscription.active:
                WebhookSubscription.objects.filter(pk=subscription_id).update(task_queued_at=None)
                return "inactive"
            WebhookSubscription.objects.filter(pk=subscription_id).update(task_queued_at=timezone.now())
            events = list(pending_events(subscription)[: delivery.MAX_BATCH])
            if not events:
                if subscription.event_prefixes:
                    # Everything after the acknowledged point was filtered out: move past it.
                    newest = latest_seq()
                    WebhookSubscription.objects.filter(
                        pk=subscription_id, last_acknowledged_seq__lt=newest).update(last_acknowledged_seq=newest)
            acknowledged = subscription.last_acknowledged_seq
            url, secret = subscription.url, subscription.secret
        if not events:
            if _release_or_continue(tenant, subscription_id):
                continue
            return "idle"
        body = delivery.batch_body(tenant.slug, [delivery.event_payload(e) for e in events])
        outcome = delivery.post(url, secret, body)  # no transaction is open during network I/O
        first, last = events[0].seq, events[-1].seq
        if not _record_outcome(tenant, subscription_id, outcome, first, last, len(events), acknowledged):
            return "retry"
    # Plenty more to send: hand over to a fresh task so others get a turn.
    deliver_subscription.enqueue(tenant_id=tenant.pk, subscription_id=subscription_id)
    return "more"


def _record_outcome(tenant: Tenant, subscription_id: int, outcome: delivery.Outcome, first: int | None,
                    last: int | None, count: int, acknowledged: int) -> bool:
    """Log the attempt; advance on success, or schedule a retry / disable. True means go on."""
    now = timezone.now()
    with request_scope(), tenant_context(tenant):
        subscription = WebhookSubscription.objects.select_for_update().filter(pk=subscription_id).first()
        if subscription is None:
            return False
        WebhookDelivery.objects.create(
            subscription=subscription, first_seq=first, last_seq=last, event_count=count,
            status_code=outcome.status_code, ok=outcome.ok, error=outcome.error,
            duration_ms=outcome.duration_ms, attempted_at=now,
        )
        if outcome.ok:
            if subscription.last_acknowledged_seq == acknowledged and last is not None:
                subscription.last_acknowledged_seq = last
            subscription.consecutive_failures = 0
            subscription.next_attempt_at = None
            subscription.save(update_fields=["last_acknowledged_seq", "consecutive_failures",
                                             "next_attempt_at", "updated_at"])
            return True
        subscription.consecutive_failures += 1
        if subscription.consecutive_failures >= max_failures():
            subscription.save(update_fields=["consecutive_failures", "updated_at"])
            from mamori.siem.actions import disable_after_failures

            disable_after_failures(
                actor=Actor.system("siem delivery"), subscription_id=subscription.pk,
                reason=_("%(n)d deliveries failed in a row; last error: %(error)s")
                % {"n": subscription.consecutive_failures, "error": outcome.error})
            logger.warning("SIEM webhook %s disabled after %s failures", subscription.pk,
                           subscription.consecutive_failures)
            return False
        run_after = now + timedelta(seconds=backoff_seconds(subscription.consecutive_failures))
        subscription.next_attempt_at = run_after
        subscription.task_queued_at = run_after  # still owned: the retry task carries on
        subscription.save(update_fields=["consecutive_failures", "next_attempt_at", "task_queued_at",
                                         "updated_at"])
        tenant_id, pk = tenant.pk, subscription.pk
        transaction.on_commit(lambda: deliver_subscription.using(run_after=run_after).enqueue(
            tenant_id=tenant_id, subscription_id=pk))
        return False


@task()
def send_test_task(*, tenant_id: int, subscription_id: int, requested_by: str = "", requested_at: str = "") -> str:
    """POST one synthetic ``siem.test`` event (no sequence number; not part of the chain)."""
    tenant = _tenant(tenant_id)
    if tenant is None:
        return "gone"
    with request_scope(), tenant_context(tenant):
        subscription = WebhookSubscription.objects.filter(pk=subscription_id).first()
        if subscription is None:
            return "gone"
        url, secret = subscription.url, subscription.secret
    now = timezone.now()
    event = {
        "seq": None, "id": None, "occurred_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if now.tzinfo else "",
        "action": "siem.test", "actor_type": "user", "actor_id": "", "actor_label": requested_by,
        "target_type": "siem.webhooksubscription", "target_id": str(subscription_id),
        "target_label": str(subscription), "before": None,
        "after": {"message": "Mamori SIEM webhook test", "requested_at": requested_at},
        "ip": None, "user_agent": "", "request_id": "", "prev_hash": "", "hash": "",
    }
    outcome = delivery.post(url, secret, delivery.batch_body(tenant.slug, [event], test=True))
    with request_scope(), tenant_context(tenant):
        subscription = WebhookSubscription.objects.filter(pk=subscription_id).first()
        if subscription is not None:
            WebhookDelivery.objects.create(
                subscription=subscription, is_test=True, event_count=1, status_code=outcome.status_code,
                ok=outcome.ok, error=outcome.error, duration_ms=outcome.duration_ms, attempted_at=timezone.now())
    return "ok" if outcome.ok else "failed"
