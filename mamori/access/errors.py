"""Errors actions raise; views and the API turn them into 403/404/422."""

from __future__ import annotations

from typing import Any


class PermissionDenied(Exception):
    """The actor may not do this (becomes 403; ``@action`` records an access.denied event)."""

    def __init__(self, permission: str = "", message: str = "", *, actor: Any = None):
        super().__init__(message or f"Permission denied: {permission}")
        self.permission = permission
        self.actor = actor
        self.recorded = False


class NotFound(Exception):
    """Absent, in another tenant, or not visible to the actor: always 404, never 403."""


def object_id(value) -> int:
    """An id from a URL or form as an int, or ``NotFound``: anything that cannot be a
    database id (not a number, ≤ 0, beyond 64 bits) is simply not found."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound from None
    if not 0 < number < 2**63:
        raise NotFound
    return number
