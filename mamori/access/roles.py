"""Roles and the one permission matrix.

The matrix is the single source of truth for what each role may do; views, API
endpoints and actions ask ``can(user, permission)``. It is rendered in the
console help and tested cell by cell.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    TENANT_ADMIN = "tenant_admin", _("Tenant admin")
    UNIT_ADMIN = "unit_admin", _("Unit admin")
    EDITOR = "editor", _("Editor")
    REVIEWER = "reviewer", _("Reviewer")
    VIEWER = "viewer", _("Viewer")


class Perm(models.TextChoices):
    VIEW_RECORDS = "records.view", _("View records in member workspaces")
    EDIT_RECORDS = "records.edit", _("Create, edit and delete records")
    COMMENT_RECORDS = "records.comment", _("Comment on records")
    APPROVE_RECORDS = "records.approve", _("Approve or reject records")
    VIEW_RESTRICTED = "records.view_restricted", _("Open restricted records")
    CREATE_WORKSPACE = "workspaces.create", _("Create workspaces")
    MANAGE_WORKSPACES = "workspaces.manage", _("Manage all workspaces and their members")
    MANAGE_LABELS = "labels.manage", _("Manage labels")
    VIEW_USERS = "users.view", _("View the user list")
    MANAGE_USERS = "users.manage", _("Manage users (unit admins: only users of their units)")
    GRANT_ADMIN = "users.grant_admin", _("Grant, remove or act on the tenant admin and unit admin roles")
    MANAGE_UNITS = "units.manage", _("Manage organizational units and unit admins")
    MANAGE_SECURITY = "security.manage", _("Manage the password policy and security settings")
    VIEW_SIGNINS = "signins.view", _("View other users' sign-in history")
    VIEW_AUDIT = "audit.view", _("View the operation log")
    USE_API = "api.use", _("Create personal API tokens")


_ALL = frozenset(Perm)
MATRIX: dict[str, frozenset[str]] = {
    Role.TENANT_ADMIN: _ALL,
    Role.UNIT_ADMIN: frozenset({Perm.VIEW_RECORDS, Perm.EDIT_RECORDS, Perm.COMMENT_RECORDS,
                                Perm.CREATE_WORKSPACE, Perm.VIEW_USERS, Perm.MANAGE_USERS,
                                Perm.VIEW_SIGNINS, Perm.USE_API}),
    Role.EDITOR: frozenset({Perm.VIEW_RECORDS, Perm.EDIT_RECORDS, Perm.COMMENT_RECORDS,
                            Perm.CREATE_WORKSPACE, Perm.VIEW_RESTRICTED, Perm.USE_API}),
    Role.REVIEWER: frozenset({Perm.VIEW_RECORDS, Perm.COMMENT_RECORDS, Perm.APPROVE_RECORDS,
                              Perm.USE_API}),
    Role.VIEWER: frozenset({Perm.VIEW_RECORDS}),
}

# Roles a unit admin may give to users of their units (never an admin role).
UNIT_ADMIN_GRANTABLE_ROLES = frozenset({Role.EDITOR, Role.REVIEWER, Role.VIEWER})


def role_has(role: str, perm: str) -> bool:
    return perm in MATRIX.get(role, frozenset())


def can(user, perm: str) -> bool:
    """Deny by default: unknown roles, inactive and anonymous users have no permission."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return role_has(user.role, perm)
