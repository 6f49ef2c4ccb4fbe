"""Evidence packages (16.1.7): request one for a time range, follow it, download it.

Tenant admins with the audit.view permission only. The package is generated in
the background; poll ``GET /evidence/exports/{id}`` until ``status`` is
``completed``, then download it. Downloads are never cached and expire.
"""

from __future__ import annotations

from typing import Literal

from django.http import FileResponse
from django.views.decorators.cache import never_cache
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field, StrictInt

from mamori.api.auth import actor, api_user
from mamori.api.common import CREATE, UtcDateTime, checked_id
from mamori.api.problems import Problem
from mamori.evidence import actions, queries, retention

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


class RetentionOut(Schema):
    category: str
    days: int = Field(description="Days kept; 0 = for the contract's life.")
    override: int | None = Field(description="The tenant's own choice, or null for the provider default.")
    default_days: int
    min_days: int
    max_days: int = Field(description="0 = no upper bound.")


class RetentionIn(Schema):
    category: Literal["operation", "signin", "api"]
    days: StrictInt | None = Field(None, ge=0, le=36500,
                             description="Days to keep (0 = the contract's life); null = the provider default.")


def _retention_rows() -> list[dict]:
    overrides = queries.retention_overrides()
    rows = []
    for category in retention.TENANT_CATEGORIES:
        limits = retention.bounds(category)
        default = retention.default_days(category)
        rows.append({"category": category, "override": overrides.get(category),
                     "days": overrides.get(category, default), "default_days": default,
                     "min_days": limits.min_days, "max_days": limits.max_days})
    return rows


@router.get("/retention", response={200: list[RetentionOut], **READ_EXPORT})
def get_retention(request):
    """How long each category of the tenant's log is kept (tenant admins)."""
    queries.require_evidence_admin_user(api_user(request))
    return _retention_rows()


@router.put("/retention", response={200: list[RetentionOut], **READ_EXPORT})
def set_retention(request, payload: RetentionIn):
    """Set one category's retention inside the provider's bounds, or clear it with null."""
    actions.set_retention(actor=actor(request), category=payload.category, days=payload.days)
    return _retention_rows()
