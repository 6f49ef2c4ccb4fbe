"""The baseline: Django views doing the API's record queries without Mamori's layers.

They run the same SQL as ``mamori.api.records`` for a tenant admin (the same
querysets as ``mamori.records.queries``, with the tenant filter written out
instead of coming from the tenant manager), and return the same JSON. What they
leave out is what the benchmark measures: the request-id context, security
headers, ``TenantMiddleware`` (token parsing and SHA-256 verification, the
per-request transaction, ``SET LOCAL ROLE`` and ``set_config`` for RLS),
django-ninja's parsing and Pydantic serialisation, the actions layer
(permission checks, validation, savepoint) and the audit event. The create
view validates the workspace and labels, then INSERTs the record and its label
links in one transaction, as any plain Django view would.
"""

from __future__ import annotations

import json
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from mamori.records.models import Label, Record, RecordLabel, Workspace


def _tenant() -> int:
    return settings.BENCH_TENANT_ID


def _workspaces():
    # visible_workspaces() for a tenant admin: every workspace of the tenant.
    return Workspace.objects_across_tenants.filter(tenant_id=_tenant())


def _records():
    # visible_records() → search_records(): the same filter and join, and the same single
    # tenant-filtered label prefetch (records.queries.labels_prefetch).
    labels = Prefetch("labels", queryset=Label.objects_across_tenants.filter(tenant_id=_tenant()))
    return (
        Record.objects_across_tenants.filter(tenant_id=_tenant(), workspace__in=_workspaces())
        .select_related("workspace")
        .prefetch_related(labels)
    )


def _iso(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _record_json(record: Record, labels) -> dict:
    return {
        "id": record.pk,
        "workspace": {"id": record.workspace.pk, "name": record.workspace.name},
        "title": record.title,
        "body": record.body,
        "properties": record.properties,
        "classification": record.classification,
        "labels": [{"id": lb.pk, "name": lb.name, "colour": lb.colour} for lb in labels],
        "created_by_id": record.created_by_id,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }


def _problem(status: int, title: str) -> JsonResponse:
    return JsonResponse(
        {"type": "about:blank", "title": title, "status": status},
        status=status,
        content_type="application/problem+json",
    )


@csrf_exempt
def records(request):
    if request.method == "GET":
        try:
            limit = min(max(int(request.GET.get("limit", 50)), 1), 100)
            offset = max(int(request.GET.get("offset", 0)), 0)
        except ValueError:
            return _problem(422, "Unprocessable Content")
        rows = list(_records()[offset : offset + limit + 1])
        more = len(rows) > limit
        return JsonResponse(
            {
                "items": [_record_json(r, r.labels.all()) for r in rows[:limit]],
                "next_offset": offset + limit if more else None,
            }
        )
    if request.method == "POST":
        return _create(request)
    return HttpResponse(status=405)


def _create(request):
    try:
        data = json.loads(request.body)
        workspace_id = int(data["workspace_id"])
        title = str(data["title"]).strip()
        label_ids = {int(i) for i in data.get("label_ids", [])}
    except (ValueError, KeyError, TypeError):
        return _problem(422, "Unprocessable Content")
    if not title:
        return _problem(422, "Unprocessable Content")
    workspace = _workspaces().filter(pk=workspace_id).first()
    if workspace is None:
        return _problem(422, "Unprocessable Content")
    labels = list(Label.objects_across_tenants.filter(tenant_id=_tenant(), pk__in=label_ids))
    if len(labels) != len(label_ids):
        return _problem(422, "Unprocessable Content")
    with transaction.atomic():
        record = Record(
            tenant_id=_tenant(),
            workspace=workspace,
            title=title,
            body=str(data.get("body", "")),
            properties=data.get("properties") or {},
            classification=data.get("classification") or "internal",
            created_by_id=settings.BENCH_USER_ID,
        )
        record.save()  # tenant_id is set, so TenantModel.save needs no active tenant
        RecordLabel.objects_across_tenants.bulk_create(
            [RecordLabel(tenant_id=_tenant(), record=record, label=label) for label in labels]
        )
    return JsonResponse(_record_json(record, labels), status=201)


def record(request, record_id: int):
    if request.method != "GET":
        return HttpResponse(status=405)
    found = _records().filter(pk=record_id).first()
    if found is None:
        return _problem(404, "Not Found")
    return JsonResponse(_record_json(found, found.labels.all()))
