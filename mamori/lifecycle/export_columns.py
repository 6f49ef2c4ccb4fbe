"""A batch of raw rows of one table turned into JSON lines and CSV rows, a column at a time.

Split out of ``export.py``: this is the hot path of the tenant export (``_Plan``). Each column
of a batch is converted with one call for the whole column — mostly C functions (the JSON
encoder and scanner, ``int.__repr__``, ``str`` methods over the joined column) — and SQLite /
PostgreSQL times are rewritten from the database's text without building ``datetime`` objects
(``_use_c_loaders`` sets up psycopg's loaders for that). The output is byte-identical to the
per-value rules of ``export_cells`` (``json_line`` of the row, ``csv.writer`` of its cells).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import repeat
from operator import itemgetter
from typing import Any

from django.db import models

from mamori.lifecycle.export_cells import (
    _C_JSON,
    _C_SORTED_JSON,
    _ESCAPE_STARTS,
    _NUMERIC,
    _TEXT,
    _bool_cell,
    _c_make_scanner,
    _c_str,
    _csv_plain,
    _csv_quoted,
    _datetime_json,
    _json_cell,
    _json_text,
    _loads_json,
    _sqlite_datetime,
    _text_cell,
    csv_value,
    json_value,
)

_SEP = "\x1f"
_FIRST_CHAR = itemgetter(slice(0, 1))
_ZEROS = repeat(0)  # the second argument of the C JSON encoder and scanner, for ``map``
_CONTAINERS = frozenset({dict, list})
_FIRST, _SECOND = itemgetter(0), itemgetter(1)

_QUOTE_CHARS = (",", '"', "\r", "\n")  # csv.writer's QUOTE_MINIMAL with the default dialect
_NEEDS_QUOTES = re.compile('[,"\r\n]')


def _csv_column(cells) -> list:
    """The cells of one column quoted as ``csv.writer`` quotes them (``csv.writer`` itself is
    slower: it looks at every character of every cell). Checked for the whole column at once:
    most columns need no quotes, and a column where every cell needs them (text with commas,
    JSON) is quoted with a few ``str`` methods over the whole column."""
    try:
        joined = _SEP.join(cells)
    except TypeError:  # None or a non-string somewhere
        return list(map(_csv_plain, cells))
    if not any(mark in joined for mark in _QUOTE_CHARS):
        return cells
    marks = list(map(_NEEDS_QUOTES.search, cells))
    if marks.count(None) == 0 and joined.count(_SEP) == len(cells) - 1:
        quote = '"' + _SEP + '"'
        return ('"' + joined.replace('"', '""').replace(_SEP, quote) + '"').split(_SEP)
    return [cell if mark is None else _csv_quoted(cell) for cell, mark in zip(cells, marks, strict=True)]


def _neutralised(cells) -> list:
    """The CSV cells of one text column (neutralised; ``csv.writer`` quotes them). Checked for
    the whole column at once first: most columns need nothing."""
    try:
        _SEP.join(cells)
    except TypeError:  # None or a non-string somewhere: csv.writer writes "" / str() of those
        return [_text_cell(v) if v is None or type(v) is str else v for v in cells]
    if not _ESCAPE_STARTS.isdisjoint(map(_FIRST_CHAR, cells)):
        return [_text_cell(v) for v in cells]
    return cells


_SQLITE_SHAPE = "0000-00-00 00:00:00.000000"  # Django's stored form of a time on SQLite (UTC)
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")


def _same_shape(joined: str, count: int, shape: str) -> bool:
    """Whether ``joined`` is ``count`` values joined with _SEP, each of them ``shape`` with its
    "0"s any ASCII digits and the first one not "0" (a year from 1000) — a regular expression,
    checked faster: one ``str.translate`` of the whole column."""
    step = len(shape) + 1
    return (len(joined) == step * count - 1 and "0" not in joined[::step]
            and joined.translate(_DIGITS_TO_ZERO) == _SEP.join(repeat(shape, count)))


def _sqlite_time_texts(column) -> list | None:
    """The exported texts of a column of SQLite datetimes all in Django's stored form, converted
    at once (what ``_sqlite_datetime`` does to each); None if any is NULL or in another form."""
    try:
        joined = _SEP.join(column)
    except TypeError:
        return None
    if not _same_shape(joined, len(column), _SQLITE_SHAPE):
        return None
    return (joined.replace(" ", "T").replace(_SEP, "Z" + _SEP) + "Z").split(_SEP)


# PostgreSQL's text of a timestamptz in a session in UTC with DateStyle ISO (what psycopg's
# loader parses): "YYYY-MM-DD HH:MM:SS[.f{1,6}]+00".
_PG_TIME = "[1-9][0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,6})?\\+00"
_PG_TIME_COLUMN = re.compile(f"{_PG_TIME}(?:{_SEP}{_PG_TIME})*")
_PG_SHAPE = "0000-00-00 00:00:00.000000+00"
_PG_SHORT_FRACTION = re.compile("(:[0-9]{2})(?:\\.([0-9]{1,5}))?\\+00")  # not 6 digits (seconds ":SS")


def _pad_fraction(match: re.Match) -> str:
    return f"{match[1]}.{(match[2] or '').ljust(6, '0')}+00"


def _pg_time_texts(column) -> list | None:
    """The exported texts of a column of PostgreSQL timestamptz texts (``_PG_TIME``) converted at
    once (microseconds written out to 6 digits, "T", "Z"); None if any is NULL or in another form."""
    try:
        joined = _SEP.join(column)
    except TypeError:
        return None
    if not _same_shape(joined, len(column), _PG_SHAPE):
        if _PG_TIME_COLUMN.fullmatch(joined) is None:
            return None
        joined = _PG_SHORT_FRACTION.sub(_pad_fraction, joined)  # some fractions shorter than 6 digits
    return joined.replace(" ", "T").replace("+00", "Z").split(_SEP)


def _pg_time_json(raw: str) -> str:
    """The JSON value of one PostgreSQL timestamptz text: what ``_datetime_json`` gives for the
    ``datetime`` psycopg would have loaded from it."""
    texts = _pg_time_texts((raw,))
    if texts is not None:
        return texts[0]
    return _datetime_json(datetime.fromisoformat(raw) if isinstance(raw, str) else raw)


def _parse_json_column(column, scan, loads_one) -> list:
    """``loads_one`` of every non-null value, with the C scanner over the whole column when every
    value is one JSON document with nothing around it (what ``loads_one`` gives for those)."""
    try:
        parsed = list(map(scan, column, _ZEROS))  # a StopIteration (not JSON) ends it early
    except (ValueError, TypeError):  # not JSON, or NULL / not a string
        parsed = None
    if parsed is not None and len(parsed) == len(column) and list(map(_SECOND, parsed)) == list(map(len, column)):
        return list(map(_FIRST, parsed))
    return [None if v is None else loads_one(v) for v in column]


_NULL_CELL = {"null": ""}  # .get(text, text): the CSV cell of a JSON number text or null


def _texts_or_null(column, to_text: Callable[[Any], str]) -> list | None:
    """``to_text`` of each value and "null" for NULL (the JSON texts of a column of ints — with
    ``int.__repr__`` — or of strings — with the JSON string encoder — that has NULLs in it);
    None if some value is of another type."""
    try:
        return ["null" if value is None else to_text(value) for value in column]
    except TypeError:
        return None


def _int_texts(column) -> list | None:
    """``str`` of every value when all are plain ints (the JSON and the CSV text alike), else None."""
    try:
        return list(map(int.__repr__, column))
    except TypeError:
        return None


class _Plan:
    """How the raw rows of one table (a plain DB-API cursor: no model instances, no per-row
    Django converters) become the JSON lines and the CSV rows of one batch.

    The batch is turned into columns, and each column is converted with one function for the
    whole column (mostly ``map`` over C functions: ``int.__repr__``, the JSON string encoder),
    then joined back into lines. The output is byte-identical to ``json_line`` of the row
    dict and ``csv.writer`` of the CSV cells.
    """

    INT, TEXT, DATETIME, BOOL, JSON, OTHER = range(6)

    def __init__(self, fields: list[models.Field], converters: dict, connection):
        self.kinds: list[int] = []
        self.to_json: dict[int, Callable] = {}  # non-null raw value → JSON value
        self.to_json_all: dict[int, Callable] = {}  # raw value (NULL too) → JSON value
        self.pk_convert: Callable | None = None
        self.text_casts: set[int] = set()  # SQLite datetimes read as their stored text
        self.pg_time_texts = False  # PostgreSQL: timestamptz read as text (``_use_c_loaders``)
        pg_times: list[int] = []
        self.time_texts: dict[int, Callable] = {}  # a whole column of times → texts, or None
        self.scans: dict[int, Callable] = {}  # JSON columns parsed with the C scanner
        self.prefixes = [_c_str(f.attname) + ":" if _c_str else json.dumps(f.attname, ensure_ascii=False) + ":"
                         for f in fields]
        # One row of JSON lines: "{" "name":value,… "}\n", filled in with %
        self.json_template = "{" + ",".join(p.replace("%", "%%") + "%s" for p in self.prefixes) + "}\n"
        sqlite = connection.vendor == "sqlite"
        utc = getattr(connection, "timezone", None) is UTC
        for index, field in enumerate(fields):
            target = field.target_field if field.is_relation and hasattr(field, "target_field") else field
            kind = type(target)
            django_convs, expression = converters.get(index, ((), None))

            def django_convert(raw, _convs=tuple(django_convs), _expr=expression):
                for convert in _convs:
                    raw = convert(raw, _expr, connection)
                return raw

            functions = [getattr(c, "__func__", c) for c in django_convs]
            if field.primary_key and django_convs:
                self.pk_convert = django_convert
            if kind in _NUMERIC and not django_convs:
                self.kinds.append(self.INT)
            elif kind in _TEXT and not django_convs:
                self.kinds.append(self.TEXT)
            elif kind is models.BooleanField:
                self.kinds.append(self.BOOL)
                if django_convs:  # SQLite
                    self.to_json_all[index] = django_convert
            elif kind is models.DateTimeField:
                self.kinds.append(self.DATETIME)
                if sqlite and utc and functions == [type(connection.ops).convert_datetimefield_value]:
                    # Django's sqlite3 connection parses "datetime" columns into naive datetimes
                    # (PARSE_DECLTYPES), then makes them aware: read the text instead.
                    self.text_casts.add(index)
                    self.to_json[index] = _sqlite_datetime(django_convert)
                    self.time_texts[index] = _sqlite_time_texts
                elif not django_convs:  # PostgreSQL: aware datetimes already
                    self.to_json[index] = _datetime_json
                    if not field.primary_key:
                        pg_times.append(index)
                else:
                    self.to_json_all[index] = lambda raw, _c=django_convert: (
                        None if (value := _c(raw)) is None else _datetime_json(value))
            elif kind is models.JSONField and functions == [models.JSONField.from_db_value]:
                self.kinds.append(self.JSON)
                self.to_json[index] = _loads_json(target.decoder)
                if target.decoder is None and _c_make_scanner is not None:
                    self.scans[index] = _c_make_scanner(json.JSONDecoder())
            else:  # anything else: Django's own converters, then the generic conversion
                self.kinds.append(self.OTHER)
                self.to_json_all[index] = lambda raw, _c=django_convert: json_value(_c(raw))
        if connection.vendor == "postgresql" and utc and pg_times:
            # Read timestamptz as PostgreSQL's text and rewrite that (no datetime built and
            # formatted again) when every timestamptz column of the table is a plain time column.
            tz_columns = [i for i, f in enumerate(fields) if f.db_type(connection) == "timestamp with time zone"]
            if tz_columns == pg_times:
                self.pg_time_texts = True
                for index in pg_times:
                    self.to_json[index] = _pg_time_json
                    self.time_texts[index] = _pg_time_texts

    def encode(self, rows: list[tuple]) -> tuple[str, str]:
        """(JSON lines, CSV rows) of one batch, each ending with its line end."""
        count = len(rows)
        json_columns, csv_columns = [], []
        for index, column in enumerate(zip(*rows, strict=True)):
            kind = self.kinds[index]
            if column.count(None) == count and index not in self.to_json_all:  # an unused nullable column
                json_columns.append(repeat("null", count))
                csv_columns.append(repeat("", count))
                continue
            if kind == self.DATETIME and index in self.time_texts:
                texts = self.time_texts[index](column)
                if texts is not None:  # all in the usual form: the JSON strings as they are
                    json_columns.append(list(map(_c_str, texts)))
                    csv_columns.append(texts)
                    continue
            if kind == self.JSON and index in self.scans:
                column = _parse_json_column(column, self.scans[index], self.to_json[index])
            else:
                convert = self.to_json.get(index)
                if convert is not None:
                    column = [None if v is None else convert(v) for v in column]
                else:
                    convert = self.to_json_all.get(index)
                    if convert is not None:
                        column = list(map(convert, column))
            if column.count(None) == count:  # all NULL (or JSON null)
                json_columns.append(repeat("null", count))
                csv_columns.append(repeat("", count))
                continue
            if kind == self.INT:
                texts = _int_texts(column)
                if texts is not None:
                    json_columns.append(texts)
                    csv_columns.append(texts)
                elif (texts := _texts_or_null(column, int.__repr__)) is not None:  # ints and NULLs
                    json_columns.append(texts)
                    csv_columns.append(list(map(_NULL_CELL.get, texts, texts)))
                else:
                    json_columns.append(list(map(_json_text, column)))
                    csv_columns.append(list(map(_csv_plain, column)))
            elif kind == self.TEXT or kind == self.DATETIME:
                try:
                    json_columns.append(list(map(_c_str, column)))
                except TypeError:  # NULLs (or not a string)
                    texts = _texts_or_null(column, _c_str)
                    json_columns.append(texts if texts is not None else list(map(_json_text, column)))
                csv_columns.append(_csv_column(_neutralised(column)))
            elif kind == self.BOOL:
                json_columns.append(list(map(_json_text, column)))
                csv_columns.append(list(map(_bool_cell, column)))
            elif kind == self.JSON:
                kinds = set(map(type, column))
                if kinds <= _CONTAINERS:  # objects and arrays (never neutralised: "{" / "[")
                    json_columns.append(list(map("".join, map(_C_JSON, column, _ZEROS))))
                    csv_columns.append(_csv_column(list(map("".join, map(_C_SORTED_JSON, column, _ZEROS)))))
                else:
                    json_columns.append(list(map(_json_text, column)))
                    csv_columns.append(_csv_column(list(map(_json_cell, column))))
            else:
                json_columns.append(list(map(_json_text, column)))
                csv_columns.append(_csv_column(list(map(csv_value, column))))
        jsonl = "".join(map(self.json_template.__mod__, zip(*json_columns, strict=True)))
        if len(csv_columns) == 1:  # csv.writer quotes the one empty field of a one-column row
            csv_columns[0] = ['""' if cell == "" else cell for cell in csv_columns[0]]
        csv_text = "\r\n".join(map(",".join, zip(*csv_columns, strict=True))) + "\r\n"
        return jsonl, csv_text


def _use_c_loaders(db_cursor, connection, time_texts: bool = False) -> None:
    """PostgreSQL: read ``timestamptz`` with psycopg's own (C) loader. Django registers a Python
    subclass that only re-attaches the connection's time zone — about 10 µs per value — which
    changes nothing when the session's time zone is UTC, as Django sets it.

    ``time_texts`` (``_Plan.pg_time_texts``): read them as PostgreSQL's text instead (with
    DateStyle ISO, the text psycopg's loader parses), rewritten by ``_pg_time_texts``."""
    if connection.vendor != "postgresql" or getattr(connection, "timezone", None) is not UTC:
        return
    raw = getattr(db_cursor, "cursor", None)
    adapters = getattr(raw, "adapters", None)
    if adapters is None:
        return
    if time_texts and raw.connection.info.parameter_status("DateStyle").startswith("ISO"):
        from psycopg.types.string import TextLoader

        adapters.register_loader("timestamptz", TextLoader)
        return
    if raw.connection.info.parameter_status("TimeZone") != "UTC":
        return
    from psycopg.types.datetime import TimestamptzLoader  # registering it picks the C version

    adapters.register_loader("timestamptz", TimestamptzLoader)
