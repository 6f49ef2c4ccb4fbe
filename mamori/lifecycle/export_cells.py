"""One value of the tenant export as a JSON value or a CSV cell (``mamori.lifecycle.export``).

Split out of ``export.py`` so that the reference rules for a single value — formula
neutralising (``neutralise`` / ``unneutralise``), ``json_value``, ``csv_value``, ``json_line``
and ``csv.writer``'s quoting — sit in one short module. ``export_columns`` converts whole
columns at once and falls back to these per-value functions; its output must stay
byte-identical to them. The C JSON encoders and scanner are built here once.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from django.db import models

from mamori.audit.canonical import fast_format_time, format_time

# A cell beginning with one of these is a formula in Excel, LibreOffice and Google Sheets
# (the rule of mamori.evidence.verify_evidence.csv_cell); "'" itself is escaped too, so the
# prefix can always be taken off again.
FORMULA_STARTS = frozenset("=+-@\t\r")
_ESCAPE_STARTS = FORMULA_STARTS | {"'"}
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
try:  # the C encoder built once (as mamori.audit.canonical does): JSONEncoder.encode builds one per call
    from json.encoder import c_encode_basestring as _c_str
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has them
    _c_make_encoder = _c_str = None
try:
    from json.scanner import c_make_scanner as _c_make_scanner
except ImportError:  # pragma: no cover
    _c_make_scanner = None
_C_JSON = (None if _c_make_encoder is None or _c_str is None else
           _c_make_encoder(None, _JSON.default, _c_str, None, ":", ",", False, False, False))


def json_line(row: dict) -> str:
    """``json.dumps(row, ensure_ascii=False, separators=(",", ":"))``, faster."""
    if _C_JSON is None:  # pragma: no cover
        return _JSON.encode(row)
    return "".join(_C_JSON(row, 0))


# --- cell conversion ----------------------------------------------------------------------------

def neutralise(text: str) -> str:
    """Excel-safe text: prefix ``'`` to a formula-looking cell (and to a leading ``'``)."""
    return "'" + text if text and text[0] in _ESCAPE_STARTS else text


def unneutralise(cell: str) -> str:
    """The stored text of a CSV cell written by ``neutralise``."""
    return cell[1:] if cell[:1] == "'" else cell


def _iso(value) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return format_time(value)
    return value.isoformat()


def json_value(value: Any) -> Any:
    """A database value as JSON: numbers, booleans, strings, null and JSON columns as they are;
    times as ISO 8601 (UTC, ``Z``), decimals and UUIDs as strings, bytes as base64."""
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, datetime | date | dtime):
        return _iso(value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def csv_value(value: Any) -> str:
    """A database value as a CSV cell (text neutralised; JSON columns as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict | list):
        return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    return neutralise(str(json_value(value)))


# Exact Django field classes whose database values are plain ints / strs (a provider's own
# subclass may convert values differently, so it takes the generic path).
_NUMERIC = frozenset({models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField,
                      models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
                      models.PositiveBigIntegerField, models.PositiveSmallIntegerField})
_TEXT = frozenset({models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField})
_SORTED_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _text_cell(value) -> str:
    if value is None:
        return ""
    if value and value[0] in _ESCAPE_STARTS:
        return "'" + value
    return value


def _bool_cell(value) -> str:
    return "" if value is None else ("true" if value else "false")


_C_SORTED_JSON = (None if _c_make_encoder is None or _c_str is None else
                  _c_make_encoder(None, _SORTED_JSON.default, _c_str, None, ":", ",", True, False, False))


def _sorted_json(value) -> str:
    """``_SORTED_JSON.encode(value)`` with the C encoder built once (``encode`` builds one per call)."""
    if _C_SORTED_JSON is None:  # pragma: no cover
        return _SORTED_JSON.encode(value)
    return "".join(_C_SORTED_JSON(value, 0))


def _json_cell(value) -> str:
    if value is None:
        return ""
    kind = type(value)
    if kind is dict or kind is list:
        text = _sorted_json(value)
        return "'" + text if text[0] in _ESCAPE_STARTS else text
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict | list):
        return neutralise(_sorted_json(value))
    return csv_value(value)


def _datetime_json(value):
    return fast_format_time(value) if isinstance(value, datetime) and value.tzinfo is not None else json_value(value)


def _sqlite_datetime(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The JSON value of a raw SQLite datetime (text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, as
    Django stores it), without parsing it into a ``datetime`` and formatting it again; any other
    form goes through Django's converter (``convert``) and ``_datetime_json``."""

    def to_json(raw):
        if type(raw) is str and len(raw) == 26 and raw[10] == " " and raw[19] == "." and raw[0] != "0":
            return raw[:10] + "T" + raw[11:] + "Z"  # == fast_format_time(parse + make_aware(UTC))
        value = convert(raw)
        return None if value is None else _datetime_json(value)

    return to_json


def _loads_json(decoder) -> Callable[[Any], Any]:
    """``JSONField.from_db_value`` for a value read by a raw cursor (with no custom decoder, the
    C scanner ``json.loads`` itself uses, called directly)."""
    scan = _c_make_scanner(json.JSONDecoder()) if decoder is None and _c_make_scanner is not None else None

    def loads(raw):
        if type(raw) is not str:
            if not isinstance(raw, str):
                return raw
        elif scan is not None and raw[:1] == "{":  # the usual case: one object, nothing around it
            try:
                value, end = scan(raw, 0)
            except (StopIteration, ValueError):
                pass
            else:
                if end == len(raw):
                    return value
        try:
            return json.loads(raw, cls=decoder)
        except json.JSONDecodeError:
            return raw

    return loads



def _json_text(value) -> str:
    """The JSON text of one value, exactly as ``json_line`` writes it inside a row."""
    if _C_JSON is None:  # pragma: no cover
        return _JSON.encode(value)
    return "".join(_C_JSON(value, 0))


def _csv_quoted(cell: str) -> str:
    """One cell as ``csv.writer`` (QUOTE_MINIMAL, default dialect) writes it."""
    if '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    if "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell + '"'
    return cell


def _csv_plain(value) -> str:
    """Any value as ``csv.writer`` writes it (None → empty, floats by repr, others by str)."""
    if value is None:
        return ""
    if type(value) is not str:
        value = repr(value) if isinstance(value, float) else str(value)
    return _csv_quoted(value)
