"""The tenant's operation log: search with filters and keyset pagination, event detail, own sign-ins.

Filters and the cursor are validated by ``mamori.audit.queries`` (shared with the
console); invalid ones are 422 problem details naming the parameter. Times are
ISO 8601 in, UTC (``Z``) out.
"""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Router, Schema
from pydantic import Field

from mamori.accounts.queries_signins import my_signins
from mamori.api.auth import api_user
from mamori.api.common import (
    AUTH,
    DEFAULT_LIMIT,
    READ_ONE,
    RESTRICTED_READ,
    Limit,
    Storable,
    UtcDateTime,
    checked_id,
)
from mamori.audit import queries

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    id: int
    seq: int | None
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


class ChangeOut(Schema):
    field: str
    before: Any = None
    after: Any = None


class AuditEventDetail(AuditEventOut):
    hash: str
    prev_hash: str
    changes: list[ChangeOut]

    @staticmethod
    def resolve_changes(obj) -> list[dict[str, Any]]:
        return [{"field": c.field, "before": c.before, "after": c.after} for c in queries.event_changes(obj)]


def _text(max_length: int, description: str = ""):
    return Annotated[str, Field(max_length=max_length, description=description), Storable]


@router.get("/events", response={200: AuditEventPage, **RESTRICTED_READ})
def list_audit_events(
    request,
    actor: _text(254, "A user id, or part of the actor's label or e-mail address.") = "",
    actor_id: _text(64, "Exact actor id.") = "",
    action: _text(80, "Exact event name (record.created) or a prefix (record. or record.*).") = "",
    target_type: _text(64, "Exact target type, e.g. records.record.") = "",
    target_id: _text(64, "Exact target id.") = "",
    target: _text(queries.MAX_TEXT, "Part of the target's label.") = "",
    text: _text(queries.MAX_TEXT, "Part of the actor label, target label or event name.") = "",
    ip: _text(64, "An IP address or a CIDR network, e.g. 192.0.2.0/24.") = "",
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
    before: _text(120, "Cursor from next_before.") = "",
    limit: Limit = DEFAULT_LIMIT,
):
    """Events of the token's tenant, newest first (needs the audit.view permission).

    ``since`` is inclusive and ``until`` exclusive; times are ISO 8601, UTC when no offset is given.
    Pages are keyset-paginated: pass ``next_before`` as ``before``.
    """
    filters = queries.AuditFilters(actor=actor, actor_id=actor_id, action=action, target_type=target_type,
                                   target_id=target_id, target=target, text=text, ip=ip,
                                   since=since, until=until)
    page = queries.search_events(api_user(request), filters, before=before or None, limit=limit)
    return {"items": page.events, "next_before": page.next_cursor}


@router.get("/events/{int:event_id}", response={200: AuditEventDetail, **READ_ONE, 403: RESTRICTED_READ[403]})
def get_audit_event(request, event_id: int):
    """One event with its field-by-field changes (before/after)."""
    return queries.access_event(api_user(request), checked_id(event_id))


@router.get("/my-sign-ins", response={200: AuditEventPage, **AUTH, 422: RESTRICTED_READ[422]})
def my_sign_ins(request, before: _text(120, "Cursor from next_before.") = "", limit: Limit = DEFAULT_LIMIT):
    """Your own sign-in history (any role); /me/signins is the same with a result filter and sign-in fields."""
    page = my_signins(api_user(request), before=before or None, limit=limit)
    return {"items": page.events, "next_before": page.next_cursor}
