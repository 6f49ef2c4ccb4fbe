"""SIEM webhooks: subscribe an endpoint, list/change/delete, enable/disable, test, delivery log.

Needs the audit.view permission (forwarding the log is governed by reading it).
The signing secret is returned once, in the response to the creation.
"""

from __future__ import annotations

from typing import Annotated

from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    CREATE,
    DELETE,
    READ_ONE,
    RESTRICTED_READ,
    Storable,
    UtcDateTime,
    checked_id,
)
from mamori.siem import actions, queries

router = Router(tags=["siem"])

Url = Annotated[str, Field(min_length=1, max_length=500, description="https:// endpoint on a public address."),
                Storable]
Description = Annotated[str, Field(max_length=200), Storable]
Prefix = Annotated[str, Field(min_length=1, max_length=80), Storable]


class SubscriptionOut(Schema):
    id: int
    url: str
    description: str
    event_prefixes: list[str] = Field(description="Action prefixes sent; empty means every event.")
    active: bool
    last_acknowledged_seq: int
    consecutive_failures: int
    disabled_reason: str
    next_attempt_at: UtcDateTime | None
    created_at: UtcDateTime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="HMAC-SHA256 signing secret. Shown only in this response.")


class SubscriptionList(Schema):
    items: list[SubscriptionOut]


class SubscriptionIn(Schema):
    url: Url
    description: Description = ""
    event_prefixes: list[Prefix] = Field(default_factory=list, max_length=20)


class SubscriptionPatch(Schema):
    url: Url | None = None
    description: Description | None = None
    event_prefixes: list[Prefix] | None = Field(default=None, max_length=20)


class DeliveryOut(Schema):
    id: int
    attempted_at: UtcDateTime
    first_seq: int | None
    last_seq: int | None
    event_count: int
    is_test: bool
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryList(Schema):
    items: list[DeliveryOut]


ONE = {**READ_ONE, 403: RESTRICTED_READ[403]}


@router.get("/subscriptions", response={200: SubscriptionList, **RESTRICTED_READ})
def list_subscriptions(request):
    return {"items": list(queries.subscriptions(api_user(request)))}


@router.post("/subscriptions", response={201: SubscriptionCreated, **CREATE})
def create_subscription(request, payload: SubscriptionIn):
    """Subscribe an endpoint. Delivery starts with the events written from now on."""
    subscription, secret = actions.create_subscription(actor=actor(request), url=payload.url,
                                                       description=payload.description,
                                                       event_prefixes=payload.event_prefixes)
    return Status(201, {**SubscriptionOut.from_orm(subscription).model_dump(), "secret": secret})


@router.get("/subscriptions/{int:subscription_id}", response={200: SubscriptionOut, **ONE})
def get_subscription(request, subscription_id: int):
    return queries.access_subscription(api_user(request), checked_id(subscription_id))


@router.patch("/subscriptions/{int:subscription_id}", response={200: SubscriptionOut, **CHANGE})
def update_subscription(request, subscription_id: int, payload: SubscriptionPatch):
    return actions.update_subscription(actor=actor(request), subscription_id=checked_id(subscription_id),
                                       url=payload.url, description=payload.description,
                                       event_prefixes=payload.event_prefixes)


@router.delete("/subscriptions/{int:subscription_id}", response={204: None, **DELETE})
def delete_subscription(request, subscription_id: int):
    actions.delete_subscription(actor=actor(request), subscription_id=checked_id(subscription_id))
    return Status(204, None)


@router.post("/subscriptions/{int:subscription_id}/disable", response={200: SubscriptionOut, **CHANGE})
def disable_subscription(request, subscription_id: int):
    return actions.disable_subscription(actor=actor(request), subscription_id=checked_id(subscription_id))


@router.post("/subscriptions/{int:subscription_id}/enable", response={200: SubscriptionOut, **CHANGE})
def enable_subscription(request, subscription_id: int):
    """Enable again; delivery resumes after ``last_acknowledged_seq``."""
    return actions.enable_subscription(actor=actor(request), subscription_id=checked_id(subscription_id))


@router.post("/subscriptions/{int:subscription_id}/test", response={202: SubscriptionOut, **CHANGE})
def send_test_event(request, subscription_id: int):
    """Queue a synthetic ``siem.test`` event; its result appears in the delivery log."""
    return Status(202, actions.send_test_event(actor=actor(request), subscription_id=checked_id(subscription_id)))


@router.get("/subscriptions/{int:subscription_id}/deliveries", response={200: DeliveryList, **ONE})
def list_deliveries(request, subscription_id: int):
    """The newest 50 delivery attempts."""
    subscription = queries.access_subscription(api_user(request), checked_id(subscription_id))
    return {"items": queries.deliveries(subscription)}
