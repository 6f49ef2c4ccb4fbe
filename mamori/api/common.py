"""Shared types, response maps and pagination for the API routers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from django.db.models import QuerySet
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from mamori.access.errors import NotFound
from mamori.api.problems import Problem

MAX_ID = 2**63 - 1
MAX_OFFSET = 1_000_000
MAX_LIMIT = 100
DEFAULT_LIMIT = 50

# Database ids are positive 64-bit integers; bounding them keeps out-of-range
# numbers from ever reaching the database (where they would overflow).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    # Valid JSON, but no database stores NUL or a lone surrogate: refuse here, not with a 500.
    if _UNSTORABLE.search(value):
        raise PydanticCustomError("text_unstorable", "Text cannot contain NUL characters or unpaired surrogates.")
    return value


# Every text input carries this validator: Annotated[str, Field(...), Storable].
Storable = AfterValidator(_storable)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _iso_only(value: Any) -> Any:
    """Pydantic would read a number (or a numeric string) as a Unix timestamp; the API
    documents ISO 8601 strings only."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError("datetime_from_number", "Enter a date and time in ISO 8601 format.")
    return value


# Times are UTC in and out (ISO 8601, ``Z``); a time without offset is read as UTC.
UtcDateTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc)]

# Output times: already datetimes (from the database), so only the conversion to UTC.
UtcDateTimeOut = Annotated[datetime, AfterValidator(_utc)]


class OutSchema(BaseModel):
    """Base of hot response schemas that handlers fill with plain dicts (or simple objects).

    Like ``ninja.Schema`` (``from_attributes``) and documented identically in OpenAPI, but
    without ninja's wrap validator, which reads every field of every nested object through
    ``DjangoGetter``: on a page of 20 records that was most of the response time
    (bench/results.md, api_bench findings, item 4). Use it only for schemas whose values
    need no ORM conversion (no related managers, no ``resolve_*`` methods).
    """

    model_config = ConfigDict(from_attributes=True)


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Items per page (at most 100).")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, description="Items to skip.")]


def checked_id(value: int) -> int:
    """Path ids out of the database's range cannot exist: 404, like any unknown id."""
    if not 1 <= value <= MAX_ID:
        raise NotFound
    return value


def page(queryset: QuerySet, *, limit: int, offset: int) -> dict[str, Any]:
    """One page by offset: ``items`` and ``next_offset`` (null on the last page).

    Fetches one row more than asked to know whether a next page exists, so a
    page costs no COUNT query.
    """
    rows = list(queryset[offset:offset + limit + 1])
    more = len(rows) > limit
    return {"items": rows[:limit], "next_offset": offset + limit if more else None}


# Error responses each kind of operation can return, for accurate OpenAPI docs. 429: the token
# is over its request rate limit (MAMORI_API_RATE_LIMIT; mamori.access.ratelimit).
AUTH = {401: Problem, 429: Problem}
READ = {**AUTH, 422: Problem}
READ_ONE = {**READ, 404: Problem}
RESTRICTED_READ = {**READ, 403: Problem}
CREATE = {**AUTH, 403: Problem, 413: Problem, 422: Problem}
CHANGE = {**CREATE, 404: Problem}
DELETE = {**AUTH, 403: Problem, 404: Problem, 422: Problem}
