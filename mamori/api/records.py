"""Records: list with filters, create, read, partial update, delete."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.access.errors import NotFound
from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    CREATE,
    DEFAULT_LIMIT,
    DELETE,
    READ,
    READ_ONE,
    Id,
    Limit,
    Offset,
    OutSchema,
    Storable,
    UtcDateTime,
    UtcDateTimeOut,
    checked_id,
    page,
)
from mamori.api.labels import LabelOut
from mamori.records import actions
from mamori.records.queries import access_record, record_comments, search_records

router = Router(tags=["records"])

ClassificationName = Literal["public", "internal", "confidential", "restricted"]
ReviewStatusName = Literal["none", "approved", "changes_requested"]
CommentBody = Annotated[str, Field(min_length=1, max_length=actions.MAX_COMMENT), Storable]
Title = Annotated[str, Field(min_length=1, max_length=300), Storable]
Body = Annotated[str, Field(max_length=100_000), Storable]
PropertyName = Annotated[str, Field(min_length=1, max_length=64), Storable]
PropertyValue = Annotated[str, Field(max_length=1000), Storable]
Properties = Annotated[dict[PropertyName, PropertyValue], Field(max_length=actions.MAX_PROPERTIES)]
LabelIds = Annotated[list[Id], Field(max_length=100)]


class WorkspaceRef(OutSchema):
    id: int
    name: str


class RecordOut(OutSchema):
    id: int
    workspace: WorkspaceRef
    title: str
    body: str
    properties: dict[str, str]
    classification: ClassificationName
    labels: list[LabelOut]
    created_by_id: int | None
    created_at: UtcDateTimeOut
    updated_at: UtcDateTimeOut
    review_status: ReviewStatusName
    reviewed_by_id: int | None
    reviewed_at: UtcDateTimeOut | None


def record_out(record) -> dict:
    """A record as the plain dict ``RecordOut`` describes.

    Pydantic validates a dict several times faster than a model instance read
    through ninja's attribute getter (bench/api_bench_findings.md, item 4);
    labels come from the prefetch or the action's own cache.
    """
    workspace = record.workspace
    return {
        "id": record.pk,
        "workspace": {"id": workspace.pk, "name": workspace.name},
        "title": record.title,
        "body": record.body,
        "properties": record.properties,
        "classification": record.classification,
        "labels": [{"id": lb.pk, "name": lb.name, "colour": lb.colour} for lb in record.labels.all()],
        "created_by_id": record.created_by_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "review_status": record.review_status,
        "reviewed_by_id": record.reviewed_by_id,
        "reviewed_at": record.reviewed_at,
    }


class RecordPage(OutSchema):
    items: list[RecordOut]
    next_offset: int | None


class RecordIn(Schema):
    workspace_id: Id
    title: Title
    body: Body = ""
    properties: Properties = Field(default_factory=dict)
    classification: ClassificationName = "internal"
    label_ids: LabelIds = Field(default_factory=list)


class RecordPatch(Schema):
    """Fields left out (or null) keep their value; `label_ids` replaces the whole set."""

    title: Title | None = None
    body: Body | None = None
    properties: Properties | None = None
    classification: ClassificationName | None = None
    label_ids: LabelIds | None = None


# Action field names → the API's input names.
_FIELD_NAMES = {"labels": "label_ids", "workspace": "workspace_id"}


@contextmanager
def _api_field_names() -> Iterator[None]:
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError({_FIELD_NAMES.get(field, field): errors
                               for field, errors in exc.error_dict.items()})


@router.get("", response={200: RecordPage, **READ})
def list_records(
    request,
    q: Annotated[str, Field(max_length=200, description="Text in the title or body."), Storable] = "",
    label: list[Id] = Query(None, max_length=20,  # noqa: B008
                            description="Label id; repeat to require several labels (at most 20)."),
    workspace: Id | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
):
    """Records the token's user can see, most recently updated first."""
    records = search_records(api_user(request), text=q, label_ids=label or [], workspace_id=workspace)
    result = page(records, limit=limit, offset=offset)
    result["items"] = [record_out(record) for record in result["items"]]
    return result


@router.post("", response={201: RecordOut, **CREATE})
def create_record(request, payload: RecordIn):
    with _api_field_names():
        try:
            record = actions.create_record(
                actor=actor(request), workspace_id=payload.workspace_id, title=payload.title,
                body=payload.body, properties=payload.properties, classification=payload.classification,
                label_ids=payload.label_ids,
            )
        except NotFound:
            # Missing, another tenant's or not visible: one answer that reveals nothing.
            raise ValidationError({"workspace_id": _("Unknown workspace.")})
    # The action's own result: re-reading could hide a record the caller may write but
    # not open (a restricted one), turning a successful create into a 404.
    return Status(201, record_out(record))


@router.get("/{int:record_id}", response={200: RecordOut, **READ_ONE})
def get_record(request, record_id: int):
    return record_out(access_record(api_user(request), checked_id(record_id)))


@router.patch("/{int:record_id}", response={200: RecordOut, **CHANGE})
def update_record(request, record_id: int, payload: RecordPatch):
    with _api_field_names():
        return record_out(actions.update_record(actor=actor(request), record_id=checked_id(record_id),
                                                **payload.model_dump(exclude_none=True)))


@router.delete("/{int:record_id}", response={204: None, **DELETE})
def delete_record(request, record_id: int):
    actions.delete_record(actor=actor(request), record_id=checked_id(record_id))
    return Status(204, None)


# --- Comments and reviews ------------------------------------------------------------

class CommentOut(Schema):
    id: int
    author_id: int | None
    body: str
    review_decision: Literal["", "approved", "changes_requested"] = Field(
        description="Set when the comment came with a review.")
    created_at: UtcDateTime


class CommentPage(Schema):
    items: list[CommentOut]
    next_offset: int | None


class CommentIn(Schema):
    body: CommentBody


class ReviewIn(Schema):
    decision: Literal["approved", "changes_requested"]
    comment: Annotated[str, Field(max_length=actions.MAX_COMMENT), Storable] = Field(
        "", description="Required when requesting changes.")


@router.get("/{int:record_id}/comments", response={200: CommentPage, **READ_ONE})
def list_record_comments(request, record_id: int, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    """Comments on the record, oldest first."""
    return page(record_comments(api_user(request), checked_id(record_id)), limit=limit, offset=offset)


@router.post("/{int:record_id}/comments", response={201: CommentOut, **CHANGE})
def comment_on_record(request, record_id: int, payload: CommentIn):
    """Needs the records.comment permission and membership of the record's workspace."""
    comment = actions.comment_on_record(actor=actor(request), record_id=checked_id(record_id), body=payload.body)
    return Status(201, comment)


@router.post("/{int:record_id}/review", response={200: RecordOut, **CHANGE})
def review_record(request, record_id: int, payload: ReviewIn):
    """Approve the record or request changes (records.approve). A later edit resets the review."""
    record = actions.review_record(actor=actor(request), record_id=checked_id(record_id),
                                   decision=payload.decision, comment=payload.comment)
    return record_out(access_record(api_user(request), record.pk))
