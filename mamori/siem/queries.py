"""Tenant-scoped reads of webhook subscriptions and their delivery log."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Perm, can
from mamori.audit.models import AuditEvent
from mamori.siem.models import WebhookDelivery, WebhookSubscription

# Forwarding the operation log is governed by the permission to read it.
MANAGE_PERM = Perm.VIEW_AUDIT


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def subscriptions(user) -> QuerySet[WebhookSubscription]:
    if not can(user, MANAGE_PERM):
        raise PermissionDenied(MANAGE_PERM)
    return WebhookSubscription.objects.order_by("id")


def access_subscription(user, subscription_id) -> WebhookSubscription:
    """A subscription of the active tenant (403 without audit.view; 404 when absent or elsewhere)."""
    if not can(user, MANAGE_PERM):
        raise PermissionDenied(MANAGE_PERM)
    pk = _int(subscription_id)
    subscription = WebhookSubscription.objects.filter(pk=pk).first() if pk else None
    if subscription is None:
        raise NotFound
    return subscription


def deliveries(subscription: WebhookSubscription, limit: int = 50) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(subscription=subscription)
                .order_by("-attempted_at", "-id")[:limit])


def prefix_filter(subscription: WebhookSubscription) -> Q:
    q = Q()
    for prefix in subscription.event_prefixes or []:
        q |= Q(action__startswith=prefix)
    return q


def pending_events(subscription: WebhookSubscription) -> QuerySet[AuditEvent]:
    """Sealed events after the last acknowledged one that the subscription wants, in seq order."""
    return (AuditEvent.objects.filter(seq__gt=subscription.last_acknowledged_seq)
            .filter(prefix_filter(subscription)).order_by("seq"))


def latest_seq() -> int:
    event = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values("seq").first()
    return int(event["seq"]) if event else 0
