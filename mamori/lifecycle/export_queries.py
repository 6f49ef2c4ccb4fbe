"""Tenant-scoped reads of full tenant exports (404 for anything the user may not see)."""

from __future__ import annotations

from django.db.models import QuerySet

from mamori.access.errors import NotFound, PermissionDenied
from mamori.lifecycle.actions_export import EXPORT_PERMISSION, is_export_admin
from mamori.lifecycle.models import TenantExport


def require_export_admin_user(user) -> None:
    if not is_export_admin(user):
        raise PermissionDenied(EXPORT_PERMISSION)


def tenant_exports(user) -> QuerySet[TenantExport]:
    require_export_admin_user(user)
    return TenantExport.objects.select_related("created_by").order_by("-created_at", "-id")


def access_export(user, export_id, *, for_download: bool = False) -> TenantExport:
    """The export, or NotFound (other tenant, unknown id, or — for download — not ready or expired)."""
    require_export_admin_user(user)
    try:
        pk = int(export_id)
    except (TypeError, ValueError):
        raise NotFound from None
    export = TenantExport.objects.select_related("created_by").filter(pk=pk).first()
    if export is None or (for_download and not export.is_downloadable):
        raise NotFound
    return export


def open_export(export: TenantExport):
    from django.core.files.storage import default_storage

    if not export.file_path or not default_storage.exists(export.file_path):
        raise NotFound
    return default_storage.open(export.file_path, "rb")


def export_in_progress() -> TenantExport | None:
    return TenantExport.objects.filter(
        status__in=[TenantExport.Status.PENDING, TenantExport.Status.RUNNING]).first()
