"""CSV bulk user management over the API (9.2.1): preview, apply, export.

The CSV is the request body: ``Content-Type: text/csv`` (raw bytes) or
``multipart/form-data`` with the file in the field ``file``. UTF-8 (with or without
BOM) and Shift_JIS/cp932 are detected; at most 5 MB and 20,000 rows. The format is
described in ``docs/accounts/csv-import.md`` and the console help.

- ``POST /users/import/preview`` → every row's planned action and errors; writes nothing.
- ``POST /users/import`` → applies all rows in one transaction, or none: 422 problem
  details listing every error (``errors[].line``, ``errors[].column``) when any row is wrong.
- ``GET /users/export.csv`` → the users the token's user manages, in the same format.

All need the ``users.manage`` permission (unit admins: their units only).
"""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.access.scope import manageable_users
from mamori.accounts import csv_users
from mamori.accounts.actions_csv import ImportRejected, apply_user_import
from mamori.api.auth import actor, api_user
from mamori.api.problems import PROBLEM_CONTENT_TYPE, Problem, problem
from mamori.audit.events import record_event

router = Router(tags=["users"])

CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "The CSV file: the raw body (text/csv) or the multipart field `file`.",
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}
ERRORS = {401: Problem, 403: Problem, 413: Problem, 422: Problem}


class RowErrorOut(Schema):
    line: int
    column: str | None
    code: str
    message: str


class ChangeOut(Schema):
    before: object
    after: object


class RowOut(Schema):
    line: int
    email: str
    action: str | None
    name: str
    role: str
    language: str
    units: list[str]
    changes: dict[str, ChangeOut]
    errors: list[RowErrorOut]


class PreviewOut(Schema):
    ok: bool
    encoding: str
    columns: list[str]
    counts: dict[str, int]
    file_errors: list[RowErrorOut]
    rows: list[RowOut]


class ImportOut(Schema):
    created: int
    updated: int
    deactivated: int
    unchanged: int


class TooLarge(Exception):
    pass


def _require_manage(request: HttpRequest, operation: str) -> None:
    if can(api_user(request), Perm.MANAGE_USERS):
        return
    with transaction.atomic():
        record_event("access.denied", actor=actor(request),
                     after={"permission": str(Perm.MANAGE_USERS), "view": f"api:{operation}"})
    raise PermissionDenied(Perm.MANAGE_USERS)


def _csv_body(request: HttpRequest) -> bytes | HttpResponse:
    """The uploaded bytes, or a problem response (413 too large, 422 no file)."""
    too_large = problem(request, 413, _("The file is larger than %(mib)d MB. Split it into several files.")
                        % {"mib": csv_users.MAX_BYTES // (1024 * 1024)})
    no_file = problem(request, 422, _("The request has invalid fields."),
                      errors=[("file", _("Send the CSV file in the multipart field \"file\", or as the "
                                         "body with Content-Type: text/csv."))])
    if request.content_type == "multipart/form-data":
        try:
            upload = request.FILES.get("file")
        except MultiPartParserError:  # no boundary, a truncated or malformed body
            return no_file
        if upload is None:
            return no_file
        if upload.size > csv_users.MAX_BYTES:
            return too_large
        return upload.read()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > csv_users.MAX_BYTES:
        return too_large
    # Read the stream ourselves: the CSV may be larger than the JSON body limit.
    data = request._body if hasattr(request, "_body") else request.read(csv_users.MAX_BYTES + 1)  # noqa: SLF001
    if len(data) > csv_users.MAX_BYTES:
        return too_large
    if not data:
        return no_file
    return data


def _rejected(request: HttpRequest, result: csv_users.Preview) -> HttpResponse:
    errors = [{"field": e.column or "file", "message": str(e.message), "line": e.line, "column": e.column or None,
               "code": e.code} for e in result.errors]
    body = json.loads(problem(request, 422, _("The file has %(count)d error(s); nothing was imported.")
                              % {"count": len(errors)}).content)
    body["errors"] = errors
    body["counts"] = result.counts
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=422,
                        content_type=f"{PROBLEM_CONTENT_TYPE}; charset=utf-8")


@router.post("/import/preview", response={200: PreviewOut, **ERRORS}, openapi_extra=CSV_BODY)
def preview_user_import(request):
    """Check a CSV file: each row's planned action (create, update, deactivate, unchanged) and
    each error with its line and column. Writes nothing."""
    _require_manage(request, "preview_user_import")
    data = _csv_body(request)
    if isinstance(data, HttpResponse):
        return data
    return csv_users.preview(actor_user=api_user(request), data=data).as_dict()


@router.post("/import", response={200: ImportOut, **ERRORS}, openapi_extra=CSV_BODY)
def apply_user_import_api(request):
    """Apply a CSV file: all rows in one transaction, or none (422 with every error).
    Created users are invited by e-mail once the import is saved."""
    _require_manage(request, "apply_user_import_api")
    data = _csv_body(request)
    if isinstance(data, HttpResponse):
        return data
    try:
        outcome = apply_user_import(actor=actor(request), data=data)
    except ImportRejected as exc:
        return _rejected(request, exc.preview)
    return outcome.as_dict()


@router.get("/export.csv", response={200: None, 401: Problem, 403: Problem, 422: Problem})
def export_users_csv(request, encoding: str = "utf-8", header: str = "en"):
    """The users you manage as CSV (``encoding``: ``utf-8`` with BOM, or ``cp932``; ``header``: ``en`` or
    ``ja``). Cells a spreadsheet would run as formulas start with an apostrophe."""
    _require_manage(request, "export_users_csv")
    if encoding not in ("utf-8", "cp932") or header not in ("en", "ja"):
        return problem(request, 422, _("The request has invalid fields."),
                       errors=[("encoding" if encoding not in ("utf-8", "cp932") else "header",
                                _("Enter a valid value."))])
    try:
        data = csv_users.export_users(manageable_users(api_user(request)).order_by("email"),
                                      encoding=encoding, header=header)
    except UnicodeEncodeError:
        return problem(request, 422, _("Some names cannot be written in Shift_JIS. Export as UTF-8 instead."))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(data, content_type=f"text/csv; charset={'shift_jis' if encoding == 'cp932' else 'utf-8'}")
    response["Content-Disposition"] = f'attachment; filename="users-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
