"""Building a full tenant export (issue 6, item 3), streamed with constant memory.

The export is one ZIP holding, for every table of the tenant's data
(``mamori.lifecycle.walk.exportable_tables()`` — Mamori's tenant models, the allauth
tables hanging off a user, and any tenant model a provider's app adds later):

* ``tables/<app>.<model>.csv`` — for spreadsheets: UTF-8 with BOM, CRLF, a header row of
  column names; a text cell that a spreadsheet would read as a formula (first character
  ``= + - @`` TAB or CR) — or that starts with ``'`` itself — is prefixed with ``'``, so
  dropping one leading ``'`` gives the stored text back;
* ``tables/<app>.<model>.jsonl`` — the same rows, one JSON object per line, exact types
  (numbers, booleans, null, JSON columns as JSON; times ISO 8601 in UTC);

then ``files/<source>/…`` — every file of every registered ``FileSource`` (attachments,
decrypted) — ``public_key.pem`` (the provider's Ed25519 key) and last ``manifest.json``:
the format version, tenant, times, row count and columns per table, SHA-256 and size of
every other file in the ZIP, signed with the provider's key (``verify_archive``).

Secrets never leave: ``walk.exportable_fields`` leaves out password and token hashes,
encrypted columns and key material, and ``exportable_tables`` whole key tables.

Rows are read in keyset batches (primary key order, one short ``tenant_context``
transaction each, so progress is visible to the console while the export runs) through a
plain database cursor over exactly the exported columns — no model instances, no per-row
Django converters (SQLite datetimes are read as their stored text, PostgreSQL's with
psycopg's C loader). Each batch is converted column by column (``_Plan``: whole columns
through C functions — the JSON string encoder, ``int.__repr__`` — and one check per column
for cells that need neutralising or quoting), giving output byte-identical to ``json_line``
of each row and ``csv.writer`` of its cells; it goes straight into the ZIP entry (CSV) and a
temporary file (JSON lines, added to the ZIP after the table), SHA-256 computed on the way. Files are copied in 1 MiB chunks. The finished ZIP is handed to the
default storage under ``tenants/<id>/exports/``; on any error the partial files are removed
and the export is marked failed with a message.
"""

from __future__ import annotations

import base64
import csv
import errno
import hashlib
import io
import json
import logging
import secrets
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone

from mamori.audit.canonical import canonical_bytes, fast_format_time, format_time
from mamori.lifecycle import walk
from mamori.tenancy.context import tenant_context

logger = logging.getLogger(__name__)

FORMAT = "mamori-tenant-export/1"
BATCH = 5000
CHUNK = 1 << 20
MANIFEST = "manifest.json"
PUBLIC_KEY = "public_key.pem"
# A cell beginning with one of these is a formula in Excel, LibreOffice and Google Sheets
# (the rule of mamori.evidence.verify_evidence.csv_cell); "'" itself is escaped too, so the
# prefix can always be taken off again.
FORMULA_STARTS = frozenset("=+-@\t\r")
_ESCAPE_STARTS = FORMULA_STARTS | {"'"}
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
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



class ExportError(Exception):
    """The export cannot be built; the message is shown to the tenant admin."""


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


_QUOTE_CHARS = (",", '"', "\r", "\n")  # csv.writer's QUOTE_MINIMAL with the default dialect
_SEP = "\x1f"
_FIRST_CHAR = itemgetter(slice(0, 1))
_BOOL_JSON = {True: "true", False: "false", None: "null"}


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


def _csv_column(cells: list, neutral: bool) -> list:
    """CSV cells of one text column: neutralised (``neutral``) and quoted like ``csv.writer``.
    Checked for the whole column at once first: most columns need neither."""
    try:
        joined = _SEP.join(cells)
    except TypeError:  # None or a non-string somewhere
        cells = [_text_cell(v) if neutral and (v is None or type(v) is str) else v for v in cells]
        return [_csv_plain(v) for v in cells]
    if neutral and not _ESCAPE_STARTS.isdisjoint(map(_FIRST_CHAR, cells)):
        cells = [_text_cell(v) for v in cells]
    if any(mark in joined for mark in _QUOTE_CHARS):
        return [_csv_quoted(v) for v in cells]
    return cells


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
        self.prefixes = [_c_str(f.attname) + ":" if _c_str else json.dumps(f.attname, ensure_ascii=False) + ":"
                         for f in fields]
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
                elif not django_convs:  # PostgreSQL: aware datetimes already
                    self.to_json[index] = _datetime_json
                else:
                    self.to_json_all[index] = lambda raw, _c=django_convert: (
                        None if (value := _c(raw)) is None else _datetime_json(value))
            elif kind is models.JSONField and functions == [models.JSONField.from_db_value]:
                self.kinds.append(self.JSON)
                self.to_json[index] = _loads_json(target.decoder)
            else:  # anything else: Django's own converters, then the generic conversion
                self.kinds.append(self.OTHER)
                self.to_json_all[index] = lambda raw, _c=django_convert: json_value(_c(raw))

    def encode(self, rows: list[tuple]) -> tuple[str, str]:
        """(JSON lines, CSV rows) of one batch, each ending with its line end."""
        json_columns, csv_columns = [], []
        for index, column in enumerate(zip(*rows, strict=True)):
            kind = self.kinds[index]
            convert = self.to_json.get(index)
            if convert is not None:
                column = [None if v is None else convert(v) for v in column]
            else:
                convert = self.to_json_all.get(index)
                if convert is not None:
                    column = list(map(convert, column))
            if column.count(None) == len(column):  # all NULL (an unused nullable column)
                json_columns.append([self.prefixes[index] + "null"] * len(column))
                csv_columns.append([""] * len(column))
                continue
            if kind == self.INT:
                texts = _int_texts(column)
                if texts is not None:
                    json_texts = csv_texts = texts
                else:
                    json_texts = list(map(_json_text, column))
                    csv_texts = list(map(_csv_plain, column))
            elif kind == self.TEXT or kind == self.DATETIME:
                try:
                    json_texts = list(map(_c_str, column))
                except TypeError:  # NULLs (or not a string)
                    json_texts = list(map(_json_text, column))
                csv_texts = _csv_column(column, True)
            elif kind == self.BOOL:
                json_texts = list(map(_json_text, column))
                csv_texts = list(map(_bool_cell, column))
            elif kind == self.JSON:
                json_texts = list(map(_json_text, column))
                csv_texts = _csv_column(list(map(_json_cell, column)), False)
            else:
                json_texts = list(map(_json_text, column))
                csv_texts = _csv_column(list(map(csv_value, column)), False)
            json_columns.append(list(map(self.prefixes[index].__add__, json_texts)))
            csv_columns.append(csv_texts)
        if len(csv_columns) == 1:  # csv.writer quotes the one empty field of a one-column row
            csv_columns[0] = ['""' if cell == "" else cell for cell in csv_columns[0]]
        jsonl = "{" + "}\n{".join(map(",".join, zip(*json_columns, strict=True))) + "}\n"
        csv_text = "\r\n".join(map(",".join, zip(*csv_columns, strict=True))) + "\r\n"
        return jsonl, csv_text


# --- writing --------------------------------------------------------------------------------------

class _Sink:
    """Bytes to one destination, with their SHA-256 and size."""

    def __init__(self, target):
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.target.write(data)

    def entry(self) -> dict:
        return {"sha256": self.digest.hexdigest(), "size": self.size}


def table_file_stem(table: walk.DataTable) -> str:
    return "tables/" + table.model._meta.label_lower


def _use_c_loaders(db_cursor, connection) -> None:
    """PostgreSQL: read ``timestamptz`` with psycopg's own (C) loader. Django registers a Python
    subclass that only re-attaches the connection's time zone — about 10 µs per value — which
    changes nothing when the session's time zone is UTC, as Django sets it."""
    if connection.vendor != "postgresql" or getattr(connection, "timezone", None) is not UTC:
        return
    raw = getattr(db_cursor, "cursor", None)
    adapters = getattr(raw, "adapters", None)
    if adapters is None or raw.connection.info.parameter_status("TimeZone") != "UTC":
        return
    from psycopg.types.datetime import TimestamptzLoader  # registering it picks the C version

    adapters.register_loader("timestamptz", TimestamptzLoader)


def _batch_query(table: walk.DataTable, tenant_id: int, select: list, after, batch: int):
    """The SQL of one keyset batch (the table's own tenant filter, ``pk > after``, primary-key
    order, ``LIMIT batch``) and its compiler."""
    queryset = table.rows(tenant_id)
    if after is not None:
        queryset = queryset.filter(pk__gt=after)
    queryset = queryset.values_list(*select)[:batch]
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    return sql, params, compiler


def _table_plan(table: walk.DataTable, tenant_id: int, fields: list[models.Field],
                columns: list[str]) -> tuple[_Plan, list]:
    """The conversion plan of one table and the select list of its batches."""
    _sql, _params, compiler = _batch_query(table, tenant_id, columns, None, 1)
    plan = _Plan(fields, compiler.get_converters([col for col, _sql, _alias in compiler.select]),
                 compiler.connection)
    select = [Cast(name, models.TextField()) if index in plan.text_casts else name
              for index, name in enumerate(columns)]
    return plan, select


def _write_table(archive: zipfile.ZipFile, workdir: Path, tenant, table: walk.DataTable,
                 entries: dict, on_rows: Callable[[int], None], batch: int) -> dict:
    fields = walk.exportable_fields(table.model)
    columns = walk.column_names(fields)
    pk_index = columns.index(table.model._meta.pk.attname)
    stem = table_file_stem(table)
    jsonl_tmp = workdir / "table.jsonl"
    count = 0
    plan, select = _table_plan(table, tenant.pk, fields, columns)
    with archive.open(stem + ".csv", "w", force_zip64=True) as csv_entry, jsonl_tmp.open("wb") as jsonl_raw:
        csv_sink, jsonl_sink = _Sink(csv_entry), _Sink(jsonl_raw)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        csv_sink.write(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
        after = None
        while True:
            with tenant_context(tenant):
                sql, params, compiler = _batch_query(table, tenant.pk, select, after, batch)
                with compiler.connection.cursor() as db_cursor:  # raw rows: no model instances, no converters
                    _use_c_loaders(db_cursor, compiler.connection)
                    db_cursor.execute(sql, params)
                    rows = db_cursor.fetchall()
            if not rows:
                break
            after = rows[-1][pk_index]
            if plan.pk_convert is not None:
                after = plan.pk_convert(after)
            jsonl, csv_text = plan.encode(rows)
            jsonl_sink.write(jsonl.encode("utf-8"))
            csv_sink.write(csv_text.encode("utf-8"))
            del jsonl, csv_text
            count += len(rows)
            on_rows(len(rows))
            last = len(rows)
            del rows
            if last < batch:
                break  # a short batch was the last one
    entries[stem + ".csv"] = csv_sink.entry()
    archive.write(jsonl_tmp, arcname=stem + ".jsonl")
    entries[stem + ".jsonl"] = jsonl_sink.entry()
    jsonl_tmp.unlink()
    return {"rows": count, "columns": columns, "db_table": table.db_table,
            "csv": stem + ".csv", "jsonl": stem + ".jsonl"}


def safe_archive_name(name: str) -> str:
    """A relative path inside the ZIP: no absolute paths, no ``..``, forward slashes only."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    cleaned = "/".join("".join(ch for ch in p if ch >= " " and ch != "\x7f") for p in parts)
    return cleaned or "file"


def _unique_name(name: str, taken: dict, owner_pk: int) -> str:
    """``name``, or ``name`` with ``-<owner pk>`` (then ``-<owner pk>-<n>``) before the extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = name, ""
    candidate, n = name, 0
    while candidate in taken:
        suffix = f"-{owner_pk}" + (f"-{n}" if n else "")
        candidate = f"{stem}{suffix}.{ext}" if ext else f"{stem}{suffix}"
        n += 1
    return candidate


class _Unreadable(Exception):
    pass


def _copy_file(tenant, tenant_file: walk.TenantFile, target: Path) -> dict:
    """Decrypt one tenant file into ``target``; reading errors raise ``_Unreadable``, writing
    errors (disk full) propagate."""
    with tenant_context(tenant):
        try:
            stream = tenant_file.open()
        except Exception as exc:  # noqa: BLE001 — any failure to open/decrypt one file
            raise _Unreadable(exc) from exc
        try:
            with target.open("wb") as out:
                sink = _Sink(out)
                while True:
                    try:
                        chunk = stream.read(CHUNK)
                    except Exception as exc:  # noqa: BLE001
                        raise _Unreadable(exc) from exc
                    if not chunk:
                        break
                    sink.write(chunk)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    return sink.entry()


def _write_files(archive: zipfile.ZipFile, workdir: Path, tenant, entries: dict,
                 on_file: Callable[[], None]) -> tuple[dict, list[dict]]:
    sources: dict[str, int] = {}
    unreadable: list[dict] = []
    target = workdir / "file.bin"
    for source in walk.file_sources():
        with tenant_context(tenant):
            files = list(source.files(tenant.pk))
        sources[source.name] = 0
        for tenant_file in files:
            name = _unique_name("files/" + safe_archive_name(tenant_file.archive_name), entries,
                                tenant_file.owner_pk)
            try:
                entry = _copy_file(tenant, tenant_file, target)
            except _Unreadable as exc:
                cause = exc.__cause__
                unreadable.append({"name": name, "owner": tenant_file.owner_label, "owner_pk": tenant_file.owner_pk,
                                   "error": type(cause).__name__ if cause else "error"})
                target.unlink(missing_ok=True)
                continue
            archive.write(target, arcname=name)
            entries[name] = entry
            target.unlink()
            sources[source.name] += 1
            on_file()
    return sources, unreadable


def _work_root() -> str | None:
    return getattr(settings, "TENANT_EXPORT_WORK_DIR", None) or None


def storage_name(tenant_id: int, export_id: int) -> str:
    return f"{walk.tenant_storage_prefix(tenant_id)}exports/{export_id}-{secrets.token_hex(16)}.zip"


def describe_failure(exc: BaseException) -> str:
    """The message stored on a failed export (shown to the admin; no data in it)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return f"disk full: {exc.strerror or exc}"
    if isinstance(exc, ExportError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:500]


def claim(export_id: int, tenant) -> bool:
    """Move a waiting export to running (once, across workers)."""
    from mamori.lifecycle.models import TenantExport

    with tenant_context(tenant):
        export = TenantExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != TenantExport.Status.PENDING:
            return False
        TenantExport.objects.filter(pk=export_id).update(
            status=TenantExport.Status.RUNNING, progress=1, started_at=timezone.now())
    return True


def build_export(export_id: int, tenant, *, batch: int | None = None) -> None:
    """Generate the ZIP of one ``TenantExport`` and mark it completed (or failed)."""
    from mamori.audit import signing
    from mamori.lifecycle.actions_export import finish_tenant_export
    from mamori.lifecycle.models import TenantExport

    if not claim(export_id, tenant):
        return
    batch = batch or BATCH
    started = timezone.now()
    tables = walk.exportable_tables()
    state = {"rows": 0, "files": 0, "at": 0.0, "total": 0}

    def progress(force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - state["at"] < 0.5:
            return
        state["at"] = now
        percent = 1 + state["rows"] * 89 // max(state["total"], 1)
        with tenant_context(tenant):
            TenantExport.objects.filter(pk=export_id).update(
                progress=min(percent, 98), rows_done=state["rows"], rows_total=state["total"],
                file_count=state["files"])

    def on_rows(n: int) -> None:
        state["rows"] += n
        progress()

    def on_file() -> None:
        state["files"] += 1
        progress()

    workdir: Path | None = None
    stored: str | None = None
    try:  # everything after the claim: any failure marks the export failed, never leaves it "running"
        with tenant_context(tenant):
            state["total"] = sum(t.rows(tenant.pk).count() for t in tables)
        progress(force=True)
        workdir = Path(tempfile.mkdtemp(prefix="mamori-export-", dir=_work_root()))
        zip_path = workdir / "export.zip"
        entries: dict[str, dict] = {}
        manifest_tables: dict[str, dict] = {}
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1,
                             allowZip64=True) as archive:
            for table in tables:
                manifest_tables[table.label] = _write_table(archive, workdir, tenant, table, entries, on_rows, batch)
            with tenant_context(tenant):
                TenantExport.objects.filter(pk=export_id).update(progress=90, rows_done=state["rows"])
            sources, unreadable = _write_files(archive, workdir, tenant, entries, on_file)
            public_pem = signing.public_key_pem().encode("ascii")
            archive.writestr(PUBLIC_KEY, public_pem)
            entries[PUBLIC_KEY] = {"sha256": hashlib.sha256(public_pem).hexdigest(), "size": len(public_pem)}
            manifest = {
                "format": FORMAT,
                "export_id": export_id,
                "tenant": {"id": tenant.pk, "slug": tenant.slug, "name": tenant.name},
                "started_at": format_time(started),
                "finished_at": format_time(timezone.now()),
                "row_count": state["rows"],
                "tables": manifest_tables,
                "file_sources": sources,
                "unreadable_files": unreadable,
                "files": entries,
            }
            key_id, signature = signing.sign(canonical_bytes(manifest))
            archive.writestr(MANIFEST, json.dumps({"manifest": manifest, "key_id": key_id,
                                                   "signature": signature}, indent=2, ensure_ascii=False))
        with tenant_context(tenant):
            TenantExport.objects.filter(pk=export_id).update(progress=99, rows_done=state["rows"],
                                                              file_count=state["files"])
        digest = hashlib.sha256()
        with zip_path.open("rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
        name = storage_name(tenant.pk, export_id)
        stored = name
        with zip_path.open("rb") as handle:
            stored = default_storage.save(name, File(handle, name=name))
        with tenant_context(tenant):
            finish_tenant_export(export_id=export_id, ok=True, file_path=stored, file_size=zip_path.stat().st_size,
                                 sha256=digest.hexdigest(), rows_done=state["rows"], rows_total=state["rows"],
                                 table_count=len(manifest_tables), file_count=state["files"],
                                 unreadable_files=len(unreadable))
    except Exception as exc:
        logger.exception("tenant export %s of tenant %s failed", export_id, tenant.pk)
        if stored is not None:
            _remove_quietly(stored)
        with tenant_context(tenant):
            finish_tenant_export(export_id=export_id, ok=False, error=describe_failure(exc),
                                 rows_done=state["rows"])
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _remove_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # noqa: BLE001 — cleanup after a failure must not hide the failure
        logger.exception("could not remove the partial export %s", name)


# --- verification ----------------------------------------------------------------------------------

def verify_archive(source, public_key_pem: str | None = None) -> list[str]:
    """Check an export ZIP: manifest signature (with the provider's key, or ``public_key_pem``)
    and the SHA-256 and size of every file. Returns the problems found (empty = valid)."""
    from mamori.audit import signing

    problems: list[str] = []
    with zipfile.ZipFile(source) as archive:
        try:
            document = json.loads(archive.read(MANIFEST))
            manifest = document["manifest"]
        except (KeyError, ValueError):
            return [f"{MANIFEST} is missing or unreadable"]
        if manifest.get("format") != FORMAT:
            problems.append(f"unknown format {manifest.get('format')!r}")
        if not signing.verify(canonical_bytes(manifest), document.get("key_id", ""), document.get("signature", ""),
                              public_key_pem):
            problems.append("the manifest signature does not verify")
        names = set(archive.namelist()) - {MANIFEST}
        listed = manifest.get("files", {})
        for name in sorted(names - set(listed)):
            problems.append(f"{name}: not in the manifest")
        for name, expected in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name}: missing")
                continue
            digest, size = hashlib.sha256(), 0
            with archive.open(name) as handle:
                for block in iter(lambda handle=handle: handle.read(CHUNK), b""):
                    digest.update(block)
                    size += len(block)
            if digest.hexdigest() != expected.get("sha256") or size != expected.get("size"):
                problems.append(f"{name}: SHA-256 or size differs from the manifest")
    return problems
