"""Evidence packages (16.1.7): request one for a time range, follow it, download it.

Tenant admins with the audit.view permission only. The package is generated in
the background; poll ``GET /evidence/exports/{id}`` until ``status`` is
``completed``, then download it. Downloads are never cached and expire.
"""

from __future__ import annotations

from django.http import FileResponse
from django.views.decorators.cache import never_cache
from ninja import Router, Schema
from ninja.responses import Status

from mamori.api.auth import actor, api_user
from mamori.api.common import CREATE, UtcDateTime, checked_id
from mamori.api.problems import Problem
from mamori.evidence import actions, queries

router = Router(tags=["evidence"])
READ_EXPORT = {401: Problem, 403: Problem, 404: Problem, 422: Problem}


class ExportIn(Schema):
    since: UtcDateTime
    until: UtcDateTime


class ExportOut(Schema):
    id: int
    since: UtcDateTime
    until: UtcDateTime
    status: str
    progress: int
    event_count: int
    first_seq: int | None
    last_seq: int | None
    digest_count: int
    sha256: str
    file_size: int
    created_at: UtcDateTime
    completed_at: UtcDateTime | None
    expires_at: UtcDateTime
    downloadable: bool

    @staticmethod
    def resolve_downloadable(obj) -> bool:
        return obj.is_downloadable


@router.post("/exports", response={202: ExportOut, **CREATE})
def request_evidence_export(request, payload: ExportIn):
    """Request a package of the events in ``[since, until)`` (at most 366 days, not in the future)."""
    export = actions.request_export(actor=actor(request), since=payload.since, until=payload.until)
    return Status(202, export)


@router.get("/exports/{int:export_id}", response={200: ExportOut, **READ_EXPORT})
def get_evidence_export(request, export_id: int):
    """Status and progress of one package."""
    return queries.access_export(api_user(request), checked_id(export_id))


@router.get("/exports/{int:export_id}/download", response={200: None, **READ_EXPORT})
def download_evidence_export(request, export_id: int):
    """The ZIP (``application/zip``, attachment). 404 when unknown, not ready or expired."""
    export = queries.access_export(api_user(request), checked_id(export_id), for_download=True)
    handle = queries.open_package(export)
    actions.record_download(actor=actor(request), export=export)
    response = FileResponse(handle, as_attachment=True, filename=export.filename, content_type="application/zip")
    return never_cache(lambda _request: response)(request)
