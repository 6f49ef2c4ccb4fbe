"""Tenant-scoped reads for the SCIM settings page."""

from __future__ import annotations

from django.db.models import QuerySet

from mamori.scim.models import ScimToken


def scim_tokens() -> QuerySet[ScimToken]:
    """Every SCIM token of the active tenant, newest first, with its creator."""
    return ScimToken.objects.select_related("created_by")
