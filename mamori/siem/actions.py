"""Writes for SIEM webhooks: subscribe, change, enable/disable, delete, send a test event.

Every action writes its ``siem.*`` audit event in its transaction. Network I/O
never happens here: deliveries are queued (on commit) for ``tasks.py``.
"""

from __future__ import annotations

import re
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.access.roles import can
from mamori.audit.events import Actor, diff, record_event, snapshot
from mamori.core.actions import action
from mamori.lifecycle.keys import ensure_data_key
from mamori.siem import delivery
from mamori.siem.models import WebhookSubscription
from mamori.siem.queries import MANAGE_PERM, access_subscription, latest_seq
from mamori.tenancy.context import require_tenant

AUDIT_FIELDS = ["url", "description", "event_prefixes", "active"]
MAX_PREFIXES = 20
_PREFIX = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]*)*$")


def require(actor: Actor, perm: str) -> None:
    if actor.user is None or not can(actor.user, perm):
        raise PermissionDenied(perm, actor=actor)


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": _("This field is required.")})
    if len(url) > 500:
        raise ValidationError({"url": _("At most %(n)d characters.") % {"n": 500}})
    try:
        delivery.resolve_target(url)
    except delivery.UnsafeURL as exc:
        raise ValidationError({"url": str(exc)}) from None
    return url


def _clean_prefixes(prefixes) -> list[str]:
    if isinstance(prefixes, str):
        prefixes = re.split(r"[\s,]+", prefixes)
    cleaned: list[str] = []
    for raw in prefixes or []:
        prefix = str(raw).strip().rstrip("*")
        if not prefix:
            continue
        if len(prefix) > 80 or not _PREFIX.match(prefix):
            raise ValidationError({"event_prefixes": _("Use event names or prefixes such as record. or auth.")})
        if prefix not in cleaned:
            cleaned.append(prefix)
    if len(cleaned) > MAX_PREFIXES:
        raise ValidationError({"event_prefixes": _("At most %(n)d items.") % {"n": MAX_PREFIXES}})
    return cleaned


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationError({"description": _("At most %(n)d characters.") % {"n": 200}})
    return description


def queue_delivery_on_commit(subscription: WebhookSubscription) -> None:
    from mamori.siem.tasks import queue_delivery

    tenant = require_tenant()
    pk = subscription.pk
    transaction.on_commit(lambda: queue_delivery(tenant, pk))


@action
def create_subscription(*, actor: Actor, url: str, description: str = "",
                        event_prefixes=()) -> tuple[WebhookSubscription, str]:
    """Subscribe an endpoint; returns the subscription and its secret (shown once).

    Delivery starts with the events written from now on (this action's own event first).
    """
    require_tenant()
    require(actor, MANAGE_PERM)
    # The secret is stored encrypted; create the tenant's data key (and its audit event) first,
    # so delivery still starts with this action's own event.
    ensure_data_key(require_tenant().pk)
    secret = secrets.token_bytes(32).hex()
    subscription = WebhookSubscription.objects.create(
        url=_clean_url(url), description=_clean_description(description),
        event_prefixes=_clean_prefixes(event_prefixes), secret=secret,
        last_acknowledged_seq=latest_seq(),
    )
    record_event("siem.subscription_created", actor=actor, target=subscription,
                 after=snapshot(subscription, AUDIT_FIELDS))
    queue_delivery_on_commit(subscription)
    return subscription, secret


@action
def update_subscription(*, actor: Actor, subscription_id: int, url: str | None = None,
                        description: str | None = None, event_prefixes=None) -> WebhookSubscription:
    require(actor, MANAGE_PERM)
    subscription = access_subscription(actor.user, subscription_id)
    before = snapshot(subscription, AUDIT_FIELDS)
    if url is not None:
        subscription.url = _clean_url(url)
    if description is not None:
        subscription.description = _clean_description(description)
    if event_prefixes is not None:
        subscription.event_prefixes = _clean_prefixes(event_prefixes)
    subscription.save()
    b, a = diff(before, snapshot(subscription, AUDIT_FIELDS))
    if a:
        record_event("siem.subscription_updated", actor=actor, target=subscription, before=b, after=a)
    return subscription


@action
def delete_subscription(*, actor: Actor, subscription_id: int) -> None:
    require(actor, MANAGE_PERM)
    subscription = access_subscription(actor.user, subscription_id)
    record_event("siem.subscription_deleted", actor=actor, target=subscription,
                 before=snapshot(subscription, AUDIT_FIELDS))
    subscription.delete()


@action
def disable_subscription(*, actor: Actor, subscription_id: int, reason: str = "") -> WebhookSubscription:
    require(actor, MANAGE_PERM)
    subscription = access_subscription(actor.user, subscription_id)
    return _disable(actor, subscription, reason or _("Disabled by %(who)s.") % {"who": actor.label})


def _disable(actor: Actor, subscription: WebhookSubscription, reason: str) -> WebhookSubscription:
    if not subscription.active:
        return subscription
    subscription.active = False
    subscription.disabled_reason = reason[:300]
    subscription.task_queued_at = None
    subscription.next_attempt_at = None
    subscription.save(update_fields=["active", "disabled_reason", "task_queued_at", "next_attempt_at",
                                     "updated_at"])
    record_event("siem.subscription_disabled", actor=actor, target=subscription,
                 before={"active": True}, after={"active": False, "reason": subscription.disabled_reason,
                                                 "last_acknowledged_seq": subscription.last_acknowledged_seq})
    return subscription


@action
def disable_after_failures(*, actor: Actor, subscription_id: int, reason: str) -> WebhookSubscription:
    """The delivery task gives up (``actor`` is the system): disable and tell the tenant's admins."""
    from mamori.access.roles import Role
    from mamori.accounts.models import User
    from mamori.core.tasks import enqueue_mail_on_commit

    tenant = require_tenant()
    subscription = WebhookSubscription.objects.get(pk=subscription_id)
    subscription = _disable(actor, subscription, reason)
    admins = list(User.objects.filter(role=Role.TENANT_ADMIN, is_active=True).values_list("email", flat=True))
    if admins:
        body = _(
            "The SIEM webhook “%(name)s” (%(url)s) of %(tenant)s was disabled after %(n)d failed "
            "deliveries in a row.\n\nLast error: %(reason)s\n\nNo event is lost: when you enable it again "
            "in the console (Settings → SIEM webhooks), delivery resumes after sequence number %(seq)d."
        ) % {"name": str(subscription), "url": subscription.url, "tenant": tenant.name,
             "n": subscription.consecutive_failures, "reason": reason, "seq": subscription.last_acknowledged_seq}
        enqueue_mail_on_commit(subject=_("SIEM webhook disabled: %(name)s") % {"name": str(subscription)},
                               body=body, to=admins)
    return subscription


@action
def enable_subscription(*, actor: Actor, subscription_id: int) -> WebhookSubscription:
    """Enable again; delivery resumes after ``last_acknowledged_seq`` (nothing is skipped)."""
    require(actor, MANAGE_PERM)
    subscription = access_subscription(actor.user, subscription_id)
    if subscription.active:
        return subscription
    subscription.active = True
    subscription.disabled_reason = ""
    subscription.consecutive_failures = 0
    subscription.task_queued_at = None
    subscription.next_attempt_at = None
    subscription.save()
    record_event("siem.subscription_enabled", actor=actor, target=subscription,
                 before={"active": False}, after={"active": True,
                                                  "resume_after_seq": subscription.last_acknowledged_seq})
    queue_delivery_on_commit(subscription)
    return subscription


@action
def send_test_event(*, actor: Actor, subscription_id: int) -> WebhookSubscription:
    """Queue a synthetic ``siem.test`` event (outside the chain; no sequence number)."""
    from mamori.siem.tasks import send_test_task

    require(actor, MANAGE_PERM)
    subscription = access_subscription(actor.user, subscription_id)
    record_event("siem.test_sent", actor=actor, target=subscription)
    tenant = require_tenant()
    kwargs = {"tenant_id": tenant.pk, "subscription_id": subscription.pk,
              "requested_by": actor.label, "requested_at": timezone.now().isoformat()}
    transaction.on_commit(lambda: send_test_task.enqueue(**kwargs))
    return subscription
