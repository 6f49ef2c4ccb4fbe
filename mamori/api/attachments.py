"""Record attachments: list, upload (multipart), metadata, download, delete; the size limit.

Access follows the record: a record the token's user cannot open answers 404 for its
attachments too; uploading and deleting need ``records.edit``. Uploads are
``multipart/form-data`` with the file in the field ``file``; over the tenant's limit → 413
with the limit in the message; a type not accepted, an empty or missing file → 422.
Downloads stream the decrypted bytes with ``Content-Disposition: attachment``; a stored file
that was modified or truncated → 409 (nothing is sent).
"""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    DEFAULT_LIMIT,
    DELETE,
    READ,
    READ_ONE,
    Limit,
    Offset,
    UtcDateTime,
    checked_id,
    page,
)
from mamori.api.problems import Problem, problem
from mamori.records import actions_attachments as attachment_actions
from mamori.records import attachments as files
from mamori.records.queries import (
    access_attachment,
    attachment_limit,
    attachment_limits,
    record_attachments,
)

router = Router(tags=["attachments"])
limits_router = Router(tags=["attachments"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file in the multipart field `file`. Its type is read from the content, not the name.",
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}
DOWNLOAD = {
    "responses": {"200": {"description": "The file (the detected type, `Content-Disposition: attachment`).",
                          "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                              "format": "binary"}}}}}
}


class AttachmentOut(Schema):
    id: int
    record_id: int
    filename: str
    content_type: str
    size: int = Field(description="Bytes (plaintext).")
    uploaded_by_id: int | None
    created_at: UtcDateTime


class AttachmentPage(Schema):
    items: list[AttachmentOut]
    next_offset: int | None


class LimitsOut(Schema):
    effective_max_bytes: int = Field(description="The limit uploads get now.")
    provider_max_bytes: int = Field(description="The provider's limit for this tenant (the ceiling).")
    tenant_max_bytes: int | None = Field(description="The tenant's own lower limit, or null.")
    accepted_types: list[str]


class LimitsIn(Schema):
    tenant_max_bytes: Annotated[int, Field(ge=1)] | None = Field(
        None, description="The tenant's lower limit in bytes (at most the provider's); null or left out: "
                          "the provider's limit applies.")


@router.get("/{int:record_id}/attachments", response={200: AttachmentPage, **READ_ONE})
def list_attachments(request, record_id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    """Attachments of the record, oldest first."""
    return page(record_attachments(api_user(request), checked_id(record_id)), limit=limit, offset=offset)


@router.post("/{int:record_id}/attachments", response={201: AttachmentOut, **CHANGE, 413: Problem},
             openapi_extra=UPLOAD_BODY)
def upload_attachment(request: HttpRequest, record_id: int):
    """Attach a file (multipart field ``file``). 413 over the tenant's limit, 422 empty, missing or
    a type not accepted."""
    record_id = checked_id(record_id)
    handler = files.install_upload_limit(request, attachment_limit())
    upload = request.FILES.get("file") if request.content_type == "multipart/form-data" else None
    try:
        attachment = attachment_actions.upload_attachment(
            actor=actor(request), record_id=record_id, file=upload, filename=upload.name if upload else "",
            size=upload.size if upload else None, exceeded=handler is not None and handler.exceeded)
    except attachment_actions.AttachmentTooLarge as exc:
        return problem(request, 413, exc.message_text, errors=[("file", exc.message_text)])
    except ValidationError as exc:
        if "file" in getattr(exc, "error_dict", {}) and upload is None:
            raise ValidationError({"file": _('Send the file as multipart/form-data in the field "file".')}) from None
        raise
    return Status(201, attachment)


@router.get("/{int:record_id}/attachments/{int:attachment_id}", response={200: AttachmentOut, **READ_ONE})
def get_attachment(request, record_id: int, attachment_id: int):
    return access_attachment(api_user(request), checked_id(record_id), checked_id(attachment_id))


@router.get("/{int:record_id}/attachments/{int:attachment_id}/content",
            response={200: None, **READ_ONE, 409: Problem}, openapi_extra=DOWNLOAD)
def download_attachment(request, record_id: int, attachment_id: int):
    """The file's bytes, decrypted. Audited (a sensitive read). 409 when the stored file was
    modified, truncated or is missing: nothing is sent then."""
    try:
        download = attachment_actions.download_attachment(
            actor=actor(request), record_id=checked_id(record_id), attachment_id=checked_id(attachment_id))
    except files.AttachmentUnreadable as exc:
        return problem(request, 409, str(exc))
    response = StreamingHttpResponse(download.chunks())
    for name, value in download.headers.items():
        response[name] = value
    return response


@router.delete("/{int:record_id}/attachments/{int:attachment_id}", response={204: None, **DELETE})
def delete_attachment(request, record_id: int, attachment_id: int):
    attachment_actions.delete_attachment(actor=actor(request), record_id=checked_id(record_id),
                                         attachment_id=checked_id(attachment_id))
    return Status(204, None)


def _limits() -> dict:
    limits = attachment_limits()
    return {"effective_max_bytes": limits["effective"], "provider_max_bytes": limits["provider"],
            "tenant_max_bytes": limits["tenant"], "accepted_types": files.allowed_types()}


@limits_router.get("/attachments", response={200: LimitsOut, **READ})
def get_attachment_limits(request):
    """The size limit for attachments and the accepted types (anyone who can see records)."""
    return _limits()


@limits_router.put("/attachments", response={200: LimitsOut, **CHANGE})
def set_attachment_limits(request, payload: LimitsIn):
    """A tenant admin lowers the limit (``security.manage``); it can never exceed the provider's."""
    try:
        attachment_actions.set_attachment_limit(actor=actor(request), max_bytes=payload.tenant_max_bytes)
    except ValidationError as exc:
        if "max_bytes" in getattr(exc, "error_dict", {}):
            raise ValidationError({"tenant_max_bytes": exc.error_dict["max_bytes"]}) from None
        raise
    return _limits()

