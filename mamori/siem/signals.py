"""Queue SIEM deliveries when audit events are written — after commit, never inside the action.

``record_event`` sends ``mamori.audit.events.event_recorded`` for each event it inserts.

The first event of a transaction checks, inside that transaction, whether the
tenant has an active subscription at all (one lean SELECT; an API request's token
lookup has answered it already in the request transaction, see
``subscription_known``; on PostgreSQL the audit writer's own statement answers it for
a single event, ``SUBSCRIBED_FACT``) and registers one on-commit callback for the tenant, which
does the work (one conditional UPDATE per subscription) only when the tenant has one.
Later events of the transaction cost a dictionary lookup. The decision is tied to its
callback: when the savepoint or transaction holding it rolls back, the callback goes
with it, and the next event decides and registers again (never a stale answer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


#: The tenant fact the audit writer reads with a single event (PostgreSQL): no query of our own.
SUBSCRIBED_FACT = "siem.subscribed"


def subscribed_sql(quote_name, tenant_sql: str) -> str:
    """``mamori.audit.chain.register_tenant_fact``: does the tenant have an active subscription?
    Identifiers from model metadata, quoted; the tenant is the writer's own parameter."""
    from mamori.siem.models import WebhookSubscription

    meta = WebhookSubscription._meta
    return (f"EXISTS (SELECT 1 FROM {quote_name(meta.db_table)} w"  # noqa: S608
            f" WHERE w.{quote_name(meta.get_field('tenant').column)} = {tenant_sql}"
            f" AND w.{quote_name(meta.get_field('active').column)})")


@receiver(event_recorded, dispatch_uid="mamori.siem.queue_on_event")
def queue_on_event(sender, event, facts=None, **kwargs) -> None:
    tenant_id = event.tenant_id
    if tenant_id is None:
        return
    connection = transaction.get_connection()
    pending = _pending(connection)

    if _decided_in_this_transaction(connection, pending.get(tenant_id)):
        return  # this transaction's flush for the tenant is registered already

    def flush() -> None:
        _flush(connection, tenant_id)

    # Decide once per transaction, inside it (no extra transaction after commit
    # for the many tenants without a subscription); an API request knows already,
    # unless the event is about subscriptions themselves (one may just have been added).
    known = _known.get()
    if facts and SUBSCRIBED_FACT in facts:
        # Read by the statement that wrote this very event, in this transaction: as fresh as a
        # query of our own would be, even right after a subscription changed.
        subscribed = bool(facts[SUBSCRIBED_FACT])
    elif known is not None and known[0] == tenant_id and not event.action.startswith("siem."):
        subscribed = known[1]
    else:
        subscribed = _subscribed(connection, tenant_id)
    # The decision is tied to this event's on-commit callback: if the transaction (or the
    # savepoint holding that event) rolls back, the callback goes and the next event decides
    # again instead of reusing a stale answer.
    pending[tenant_id] = (event.tenant if subscribed else None, flush)
    transaction.on_commit(flush)


def _decided_in_this_transaction(connection, entry) -> bool:
    return entry is not None and any(item[1] is entry[1] for item in connection.run_on_commit)


_SUBSCRIBED_SQL: dict[str, str] = {}
_known: ContextVar[tuple[int, bool] | None] = ContextVar("mamori_siem_known", default=None)


@contextmanager
def subscription_known(tenant_id: int, subscribed: bool) -> Iterator[None]:
    """For the block (one request, inside its transaction): whether the tenant has an active
    subscription was read already, in this transaction (the API's token lookup answers it
    in the same query), so events need not ask again."""
    token = _known.set((tenant_id, subscribed))
    try:
        yield
    finally:
        _known.reset(token)



def _subscribed(connection, tenant_id: int) -> bool:
    """Whether the tenant has an active subscription: one lean indexed SELECT, its SQL built
    once per vendor (an ORM ``exists()`` spent more time compiling than the database did).
    Explicitly scoped to the tenant, and by RLS on PostgreSQL."""
    sql = _SUBSCRIBED_SQL.get(connection.vendor)
    if sql is None:
        from mamori.siem.models import WebhookSubscription

        qn = connection.ops.quote_name
        meta = WebhookSubscription._meta
        # Identifiers only, from model metadata and quoted; the tenant id is a parameter.
        sql = _SUBSCRIBED_SQL[connection.vendor] = (
            f"SELECT 1 FROM {qn(meta.db_table)} WHERE {qn(meta.get_field('tenant').column)} = %s"  # noqa: S608
            f" AND {qn(meta.get_field('active').column)} LIMIT 1"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id])
        return cursor.fetchone() is not None


def _flush(connection, tenant_id: int) -> None:
    entry = _pending(connection).pop(tenant_id, None)
    tenant = entry[0] if entry else None
    if tenant is None:
        return
    from mamori.siem.tasks import queue_delivery

    try:
        queue_delivery(tenant)
    except Exception:  # the action already committed; a missed trigger is caught by the next event
        logger.exception("Could not queue SIEM deliveries for tenant %s", tenant_id)
