"""Labels (tenant-wide tags with a colour)."""

from __future__ import annotations

from typing import Annotated

from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from mamori.api.auth import actor, api_user
from mamori.api.common import (
    CHANGE,
    CREATE,
    DEFAULT_LIMIT,
    DELETE,
    READ,
    READ_ONE,
    Limit,
    Offset,
    OutSchema,
    Storable,
    checked_id,
    page,
)
from mamori.api.queries import visible_labels
from mamori.records import actions
from mamori.records.queries import access_label

router = Router(tags=["labels"])

Name = Annotated[str, Field(min_length=1, max_length=60), Storable]
# The action checks the format (with a translated message); the pattern is documented here.
Colour = Annotated[str, Field(max_length=7, json_schema_extra={"pattern": "^(#[0-9a-fA-F]{6})?$"},
                              description="A colour like #1f6feb; empty: the default grey."), Storable]


class LabelOut(OutSchema):
    id: int
    name: str
    colour: str


class LabelPage(Schema):
    items: list[LabelOut]
    next_offset: int | None


class LabelIn(Schema):
    name: Name
    colour: Colour = "#6b7280"


class LabelPatch(Schema):
    """Fields left out (or null) keep their value."""

    name: Name | None = None
    colour: Colour | None = None


@router.get("", response={200: LabelPage, **READ})
def list_labels(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    return page(visible_labels(api_user(request)), limit=limit, offset=offset)


@router.post("", response={201: LabelOut, **CREATE})
def create_label(request, payload: LabelIn):
    label = actions.create_label(actor=actor(request), name=payload.name, colour=payload.colour)
    return Status(201, label)


@router.get("/{int:label_id}", response={200: LabelOut, **READ_ONE})
def get_label(request, label_id: int):
    return access_label(api_user(request), checked_id(label_id))


@router.patch("/{int:label_id}", response={200: LabelOut, **CHANGE})
def update_label(request, label_id: int, payload: LabelPatch):
    current = access_label(api_user(request), checked_id(label_id))
    data = payload.model_dump(exclude_none=True)
    return actions.update_label(actor=actor(request), label_id=current.pk,
                                name=data.get("name", current.name), colour=data.get("colour", current.colour))


@router.delete("/{int:label_id}", response={204: None, **DELETE})
def delete_label(request, label_id: int):
    actions.delete_label(actor=actor(request), label_id=checked_id(label_id))
    return Status(204, None)
