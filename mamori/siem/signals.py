"""Queue SIEM deliveries when audit events are written — after commit, never inside the action.

``record_event`` sends ``mamori.audit.events.event_recorded`` for each event it inserts.

The first event of a transaction checks, inside that transaction, whether the
tenant has an active subscription at all. Every saved event registers a cheap
on-commit callback; the first callback of a commit for a tenant does the work
(one conditional UPDATE per subscription) only when the tenant has one; the
others see nothing to do.
Registering per event keeps this correct when a savepoint with events rolls back.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from mamori.audit.events import event_recorded

logger = logging.getLogger("mamori.siem")
_PENDING_ATTR = "_mamori_siem_pending"


def _pending(connection) -> dict:
    pending = getattr(connection, _PENDING_ATTR, None)
    if pending is None:
        pending = {}
        setattr(connection, _PENDING_ATTR, pending)
    return pending


@receiver(event_recorded, dispatch_uid="mamori.siem.queue_on_event")
def queue_on_event(sender, event, **kwargs) -> None:
    tenant_id = event.tenant_id
    if tenant_id is None:
        return
    connection = transaction.get_connection()
    pending = _pending(connection)
    if tenant_id not in pending:
        # Decide once per transaction, inside it (no extra transaction after commit
        # for the many tenants without a subscription).
        from mamori.siem.models import WebhookSubscription

        subscribed = WebhookSubscription.objects_across_tenants.filter(tenant_id=tenant_id, active=True).exists()
        pending[tenant_id] = event.tenant if subscribed else None
    transaction.on_commit(lambda: _flush(connection, tenant_id))


def _flush(connection, tenant_id: int) -> None:
    tenant = _pending(connection).pop(tenant_id, None)
    if tenant is None:
        return
    from mamori.siem.tasks import queue_delivery

    try:
        queue_delivery(tenant)
    except Exception:  # the action already committed; a missed trigger is caught by the next event
        logger.exception("Could not queue SIEM deliveries for tenant %s", tenant_id)
