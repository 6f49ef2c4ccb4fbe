"""Full tenant export: start one, follow it, download the ZIP (tenant admins).

The export is built in the background; poll ``GET /data/exports/{id}`` until ``status``
is ``completed``, then download it. Starting a second export while one runs is refused
with 409. Downloads are audited, never cached, and expire.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.views.decorators.cache import never_cache
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.api.auth import actor, api_user
from mamori.api.common import AUTH, CREATE, UtcDateTime, checked_id
from mamori.api.problems import Problem, problem
from mamori.lifecycle import actions_export as actions
from mamori.lifecycle import export_queries as queries

router = Router(tags=["data export"])
READ_EXPORT = {**AUTH, 403: Problem, 404: Problem, 422: Problem}


class TenantExportOut(Schema):
    id: int
    status: str = Field(description="pending, running, completed or failed.")
    progress: int = Field(description="Percent done (0–100).")
    rows_total: int
    rows_done: int
    table_count: int
    file_count: int = Field(description="Files (attachments) in the ZIP.")
    unreadable_files: int = Field(description="Files that could not be decrypted (listed in manifest.json).")
    file_size: int
    sha256: str = Field(description="SHA-256 of the ZIP once completed.")
    error: str = Field(description="Why the export failed (empty otherwise).")
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    completed_at: UtcDateTime | None
    expires_at: UtcDateTime
    downloadable: bool

    @staticmethod
    def resolve_downloadable(obj) -> bool:
        return obj.is_downloadable

    @staticmethod
    def resolve_error(obj) -> str:
        return obj.error_message


@router.post("/exports", response={202: TenantExportOut, **CREATE, 409: Problem})
def start_tenant_export(request):
    """Start a full export of the tenant's data (every table as CSV and JSON lines, the
    attachments, a signed manifest). 409 while another export runs."""
    try:
        export = actions.request_tenant_export(actor=actor(request))
    except ValidationError as exc:
        return problem(request, 409, " ".join(exc.messages))
    return Status(202, export)


@router.get("/exports", response={200: list[TenantExportOut], **AUTH, 403: Problem})
def list_tenant_exports(request):
    """The tenant's exports, newest first (at most 50)."""
    return list(queries.tenant_exports(api_user(request))[:50])


@router.get("/exports/{int:tenant_export_id}", response={200: TenantExportOut, **READ_EXPORT})
def get_tenant_export(request, tenant_export_id: int):
    """Status and progress of one export."""
    return queries.access_export(api_user(request), checked_id(tenant_export_id))


@router.get("/exports/{int:tenant_export_id}/download", response={200: None, **READ_EXPORT})
def download_tenant_export(request, tenant_export_id: int):
    """The ZIP (``application/zip``, attachment). 404 when unknown, not ready or expired."""
    export = queries.access_export(api_user(request), checked_id(tenant_export_id), for_download=True)
    handle = queries.open_export(export)
    actions.record_export_download(actor=actor(request), export=export)
    response = FileResponse(handle, as_attachment=True, filename=export.filename, content_type="application/zip")
    return never_cache(lambda _request: response)(request)
