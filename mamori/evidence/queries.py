"""Tenant-scoped reads for evidence exports (404 for anything the user may not see)."""

from __future__ import annotations

from django.db.models import QuerySet

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Perm
from mamori.evidence.actions import is_evidence_admin
from mamori.evidence.models import EvidenceExport


def require_evidence_admin_user(user) -> None:
    if not is_evidence_admin(user):
        raise PermissionDenied(Perm.VIEW_AUDIT)


def evidence_exports(user) -> QuerySet[EvidenceExport]:
    require_evidence_admin_user(user)
    return EvidenceExport.objects.select_related("created_by").order_by("-created_at", "-id")


def access_export(user, export_id, *, for_download: bool = False) -> EvidenceExport:
    """The export, or NotFound (other tenant, unknown id, or — for download — not ready or expired)."""
    require_evidence_admin_user(user)
    try:
        pk = int(export_id)
    except (TypeError, ValueError):
        raise NotFound from None
    export = EvidenceExport.objects.select_related("created_by").filter(pk=pk).first()
    if export is None:
        raise NotFound
    if for_download and not export.is_downloadable:
        raise NotFound
    return export


def open_package(export: EvidenceExport):
    from django.core.files.storage import default_storage

    if not default_storage.exists(export.file_path):
        raise NotFound
    return default_storage.open(export.file_path, "rb")


def retention_overrides() -> dict[str, int]:
    """The active tenant's own retention choices, by category (absent = provider default)."""
    from mamori.evidence.models import RetentionOverride

    return dict(RetentionOverride.objects.values_list("category", "days"))
