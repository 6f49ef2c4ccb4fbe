"""Tenant-scoped reads the console needs beyond ``mamori.records.queries``.

Users, API tokens and the operation log have no read module of their own yet;
these functions are the only place the console queries those models, each
narrowed to what the signed-in user may see (the tenant itself is enforced by
the tenant manager and, on PostgreSQL, row-level security).
"""

from __future__ import annotations

from django.db.models import QuerySet

from mamori.access.errors import NotFound
from mamori.access.roles import Perm, can
from mamori.accounts.models import ApiToken, User
from mamori.audit.models import AuditEvent
from mamori.records.models import Label, Workspace, WorkspaceMember


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


def recent_audit_events(user, limit: int = 10) -> list[AuditEvent]:
    if not can(user, Perm.VIEW_AUDIT):
        return []
    return list(AuditEvent.objects.order_by("-occurred_at", "-id")[:limit])
