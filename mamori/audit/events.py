"""Writing audit events. Called by actions inside their transaction, nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from mamori.audit.canonical import chain_name, fast_format_time
from mamori.audit.chain import (
    build_payload,
    materialise_many,
    normalised_json,
    seal_and_insert,
    seal_payloads,
)
from mamori.audit.models import ActorType, AuditEvent, ProviderEvent
from mamori.audit.redaction import redact
from mamori.audit.registry import get_event_type
from mamori.core.context import current_request_context
from mamori.tenancy.context import require_tenant

# Sent right after a tenant event is inserted, inside the action's transaction (kwargs ``event``, and
# ``facts``: the tenant facts the writer's statement read, ``mamori.audit.chain.register_tenant_fact``;
# empty when the writer path read none).
# Receivers must stay cheap and do no I/O: mamori.siem only queues its deliveries on commit.
# Sent once per event (bulk actions too): the receivers are cached per sender (as Django's model
# signals do) instead of being looked up again for every event.
event_recorded = Signal(use_caching=True)


@dataclass(frozen=True)
class Actor:
    """Who performs an action. Built from a user, a token, staff, or the system."""

    type: str
    id: str = ""
    label: str = ""
    user: Any = None

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(ActorType.USER, str(user.pk), user.email, user)

    @classmethod
    def for_api_token(cls, token) -> Actor:
        return cls(ActorType.API_TOKEN, str(token.user_id), f"{token.user.email} (token {token.prefix})", token.user)

    @classmethod
    def for_staff(cls, staff) -> Actor:
        return cls(ActorType.PROVIDER_STAFF, str(staff.pk), staff.email)

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(ActorType.SYSTEM, "", what)

    @classmethod
    def anonymous(cls, label: str = "") -> Actor:
        return cls(ActorType.ANONYMOUS, "", label)


def _target_fields(target: Any) -> dict[str, str]:
    if target is None:
        return {}
    if isinstance(target, tuple):
        ttype, tid, tlabel = (list(target) + ["", "", ""])[:3]
        return {"target_type": str(ttype), "target_id": str(tid), "target_label": str(tlabel)[:300]}
    return {
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "target_label": str(target)[:300],
    }


def _context_fields() -> dict[str, Any]:
    ctx = current_request_context()
    if ctx is None:
        return {}
    return {"ip": ctx.ip, "user_agent": ctx.user_agent, "request_id": ctx.request_id}


def _build(model, action: str, actor: Actor, target: Any, before: dict | None, after: dict | None, **extra):
    return model(
        occurred_at=timezone.now(),
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:254],
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
        **_target_fields(target),
        **_context_fields(),
        **extra,
    )


def _common_fields(action: str, actor: Actor) -> dict[str, Any]:
    return {"action": action, "actor_type": actor.type, "actor_id": actor.id, "actor_label": actor.label[:254],
            **_context_fields()}


def _append(action: str, actor: Actor, items: list[dict[str, Any]]) -> list[AuditEvent]:
    """Seal ``items`` (``target``, ``before``, ``after``) into the active tenant's chain."""
    get_event_type(action)
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Audit events are written inside the action's transaction.")
    tenant = require_tenant()
    if not items:
        return []
    chain = chain_name(tenant.pk)
    # The fields every event of the call shares (actor, request context) are normalised once:
    # ``build_payload`` on the shared part, then per event only the target, before/after and time.
    common = build_payload(chain, timezone.now(), _common_fields(action, actor))
    now = timezone.now
    payloads, times = [], []
    for item in items:
        payload = dict(common)
        target = item.get("target")
        if target is not None:
            payload.update(_target_fields(target))
        before, after = item.get("before"), item.get("after")
        if before is not None:
            payload["before"] = normalised_json(redact(before))
        if after is not None:
            payload["after"] = normalised_json(redact(after))
        when = now()
        payload["occurred_at"] = fast_format_time(when)
        payloads.append(payload)
        times.append(when)
    extra = {"tenant_id": tenant.pk}
    facts: dict[str, Any] = {}  # what the writer's statement also read about the tenant, if anything
    ids, hashes = seal_payloads(AuditEvent, chain, payloads, times, [extra] * len(payloads), facts)
    events = materialise_many(AuditEvent, payloads, times, ids, hashes, extra, {"tenant": tenant})
    send = event_recorded.send
    for event in events:
        send(sender=AuditEvent, event=event, facts=facts)
    return events


def record_event(action: str, *, actor: Actor, target: Any = None,
                 before: dict | None = None, after: dict | None = None) -> AuditEvent:
    """Append an event to the active tenant's log. Must run inside the action's transaction.

    The event is sealed into the tenant's chain as it is inserted (``mamori.audit.chain``).
    """
    return _append(action, actor, [{"target": target, "before": before, "after": after}])[0]


def record_events(action: str, *, actor: Actor, items: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append one event per item (``target``, ``before``, ``after``) for a bulk action.

    Same rules as ``record_event``; the events are sealed with one chain-head lock and
    inserted with one statement per batch (``mamori.audit.chain.seal_payloads``), in the
    order given.
    """
    return _append(action, actor, items)


def record_provider_event(action: str, *, actor: Actor, target: Any = None, tenant_ref: int | None = None,
                          before: dict | None = None, after: dict | None = None) -> ProviderEvent:
    """Append an event to the provider log (chain ``provider``), in its own transaction if none is open."""
    get_event_type(action)
    event = _build(ProviderEvent, action, actor, target, before, after, tenant_ref=tenant_ref)
    with transaction.atomic():
        return seal_and_insert(event)


def snapshot(instance, fields: list[str]) -> dict[str, Any]:
    """A JSON-safe picture of some fields of a model instance, for before/after."""
    data: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        if hasattr(value, "pk"):
            value = value.pk
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        data[name] = value
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value changed, as (before, after)."""
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}
