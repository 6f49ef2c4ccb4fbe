"""Tenant-scoped reads the API needs that no app's ``queries.py`` offers yet.

Each function takes the acting user, checks the permission that governs the
read, and returns a queryset already narrowed to what that user may see (the
tenant itself is fixed by the tenant manager and, on PostgreSQL, by RLS).
Candidates to move into ``accounts/queries.py``, ``records/queries.py`` and
``audit/queries.py`` once those exist, so the console can share them.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.accounts.models import ApiToken, User
from mamori.audit.models import AuditEvent
from mamori.records.models import Label, WorkspaceMember
from mamori.records.queries import access_workspace


def workspace_members(user, workspace_id: int) -> QuerySet[WorkspaceMember]:
    """Members of a workspace the user can see (NotFound otherwise)."""
    workspace = access_workspace(user, workspace_id)
    return (
        WorkspaceMember.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__email", "id")
    )


def visible_labels(user) -> QuerySet[Label]:
    """Labels are tenant-wide: everyone who may view records sees them."""
    if not can(user, Perm.VIEW_RECORDS):
        return Label.objects.none()
    return Label.objects.order_by("name", "id")


def tenant_users(user) -> QuerySet[User]:
    if not can(user, Perm.VIEW_USERS):
        raise PermissionDenied(Perm.VIEW_USERS)
    return User.objects.order_by("email", "id")


def own_api_tokens(user) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first (the secret hash is never read out)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


# --- Audit events: newest first, keyset pagination ------------------------------------

def encode_event_cursor(event: AuditEvent) -> str:
    stamp = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return base64.urlsafe_b64encode(f"{stamp}|{event.pk}".encode()).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _sep, pk = raw.partition("|")
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
        number = int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"before": _("This cursor is not valid; use next_before from a previous page.")})
    if not 0 < number < 2**63:
        raise ValidationError({"before": _("This cursor is not valid; use next_before from a previous page.")})
    return when, number


def audit_events(user, *, action: str = "", actor_id: str = "", since: datetime | None = None,
                 until: datetime | None = None, before: str = "") -> QuerySet[AuditEvent]:
    """The tenant's operation log for users allowed to read it, newest first."""
    if not can(user, Perm.VIEW_AUDIT):
        raise PermissionDenied(Perm.VIEW_AUDIT)
    qs = AuditEvent.objects.order_by("-occurred_at", "-id")
    if action:
        qs = qs.filter(action=action)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    if before:
        when, pk = decode_event_cursor(before)
        qs = qs.filter(Q(occurred_at__lt=when) | Q(occurred_at=when, id__lt=pk))
    return qs


def audit_page(queryset: QuerySet[AuditEvent], *, limit: int) -> dict:
    rows = list(queryset[: limit + 1])
    more = len(rows) > limit
    items = rows[:limit]
    return {"items": items, "next_before": encode_event_cursor(items[-1]) if more and items else None}
