"""The tenant's operation log, newest first, with keyset pagination."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Router, Schema
from pydantic import Field

from mamori.api.auth import api_user
from mamori.api.common import DEFAULT_LIMIT, RESTRICTED_READ, Limit, Storable, UtcDateTime
from mamori.api.queries import audit_events, audit_page

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    id: int
    occurred_at: UtcDateTime
    action: str
    action_label: str
    actor_type: str
    actor_id: str
    actor_label: str
    target_type: str
    target_id: str
    target_label: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None
    user_agent: str
    request_id: str

    @staticmethod
    def resolve_action_label(obj) -> str:
        return str(obj.label)


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_before: str | None = Field(description="Pass as `before` to get the next (older) page.")


@router.get("/events", response={200: AuditEventPage, **RESTRICTED_READ})
def list_audit_events(
    request,
    action: Annotated[str, Field(max_length=80, description="Exact event name, e.g. record.created."), Storable] = "",
    actor_id: Annotated[str, Field(max_length=64), Storable] = "",
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
    before: Annotated[str, Field(max_length=120, description="Cursor from next_before."), Storable] = "",
    limit: Limit = DEFAULT_LIMIT,
):
    """Events of the token's tenant, newest first (needs the audit.view permission).

    ``since`` is inclusive and ``until`` exclusive; times are ISO 8601, UTC when no offset is given.
    """
    events = audit_events(api_user(request), action=action, actor_id=actor_id, since=since,
                          until=until, before=before)
    return audit_page(events, limit=limit)
