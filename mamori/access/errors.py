"""Errors actions raise; views and the API turn them into 403/404/422."""

from __future__ import annotations


class PermissionDenied(Exception):
    """The actor may not do this (becomes 403, and an access.denied audit event)."""

    def __init__(self, permission: str = "", message: str = ""):
        super().__init__(message or f"Permission denied: {permission}")
        self.permission = permission


class NotFound(Exception):
    """Absent, in another tenant, or not visible to the actor: always 404, never 403."""
