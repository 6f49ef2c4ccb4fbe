"""Tenant-scoped reads the API needs that no app's ``queries.py`` offers yet.

Each function takes the acting user, checks the permission that governs the
read, and returns a queryset already narrowed to what that user may see (the
tenant itself is fixed by the tenant manager and, on PostgreSQL, by RLS).
Candidates to move into ``accounts/queries.py``, ``records/queries.py`` and
``audit/queries.py`` (which now holds the operation log reads), so the console can share them.
"""

from __future__ import annotations

from django.db.models import QuerySet

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.accounts.models import ApiToken, User
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
