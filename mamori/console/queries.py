"""Tenant-scoped reads the console needs beyond ``mamori.records.queries``.

Users, API tokens and the operation log have no read module of their own yet;
these functions are the only place the console queries those models, each
narrowed to what the signed-in user may see (the tenant itself is enforced by
the tenant manager and, on PostgreSQL, row-level security).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from mamori.access.errors import NotFound
from mamori.access.roles import Perm, can
from mamori.accounts.models import ApiToken, User
from mamori.audit.models import AuditEvent
from mamori.records.models import Label, Workspace, WorkspaceMember

AUDIT_PAGE_SIZE = 50


def labels(user) -> QuerySet[Label]:
    if not can(user, Perm.VIEW_RECORDS):
        return Label.objects.none()
    return Label.objects.all()


def label_palette() -> list[tuple[int, str]]:
    """(id, colour) of every label of the active tenant, for the per-tenant stylesheet."""
    return list(Label.objects.order_by("id").values_list("id", "colour"))


def workspace_members(user, workspace: Workspace) -> QuerySet[WorkspaceMember]:
    """Members of a workspace the caller already obtained through ``access_workspace``."""
    return WorkspaceMember.objects.filter(workspace=workspace).select_related("user").order_by("user__email")


def users_not_in_workspace(workspace: Workspace) -> QuerySet[User]:
    return User.objects.filter(is_active=True).exclude(workspace_memberships__workspace=workspace)


def tenant_users(user) -> QuerySet[User]:
    if not can(user, Perm.VIEW_USERS):
        raise NotFound
    return User.objects.order_by("email")


def my_api_tokens(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def previous_sign_in(user) -> AuditEvent | None:
    """The user's sign-in before the current one (the newest is this session's)."""
    events = AuditEvent.objects.filter(action="auth.login", actor_id=str(user.pk)).order_by("-occurred_at", "-id")
    return events[1:2].first()


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_cursor: int | None


def audit_events(user, *, action: str = "", actor: str = "", before: int | None = None,
                 page_size: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """Newest first, keyset-paginated on (occurred_at, id); ``before`` is the id of the
    last event of the previous page (an unknown id starts from the newest)."""
    if not can(user, Perm.VIEW_AUDIT):
        raise NotFound
    qs = AuditEvent.objects.order_by("-occurred_at", "-id")
    if action:
        qs = qs.filter(action=action)
    actor = (actor or "").strip()
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if before:
        cursor = AuditEvent.objects.filter(pk=before).values("occurred_at", "id").first()
        if cursor is not None:
            qs = qs.filter(Q(occurred_at__lt=cursor["occurred_at"])
                           | Q(occurred_at=cursor["occurred_at"], id__lt=cursor["id"]))
    rows = list(qs[: page_size + 1])
    next_cursor = rows[page_size - 1].pk if len(rows) > page_size else None
    return AuditPage(rows[:page_size], next_cursor)


def recent_audit_events(user, limit: int = 10) -> list[AuditEvent]:
    if not can(user, Perm.VIEW_AUDIT):
        return []
    return list(AuditEvent.objects.order_by("-occurred_at", "-id")[:limit])


def access_audit_event(user, event_id: int) -> AuditEvent:
    if not can(user, Perm.VIEW_AUDIT):
        raise NotFound
    event = AuditEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound
    return event
