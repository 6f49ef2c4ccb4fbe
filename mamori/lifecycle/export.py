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
transaction each, so progress is visible to the console while the export runs); each batch
goes straight into the ZIP entry (CSV) and a temporary file (JSON lines, added to the ZIP
after the table). Files are copied in 1 MiB chunks. The finished ZIP is handed to the
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
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models
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


def _num_cell(value) -> str:
    return "" if value is None else str(value)


def _text_cell(value) -> str:
    if value is None:
        return ""
    if value and value[0] in _ESCAPE_STARTS:
        return "'" + value
    return value


def _bool_cell(value) -> str:
    return "" if value is None else ("true" if value else "false")


def _json_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict | list):
        return neutralise(_SORTED_JSON.encode(value))
    return csv_value(value)


def _datetime_json(value):
    return fast_format_time(value) if isinstance(value, datetime) and value.tzinfo is not None else json_value(value)


def _converters(fields: list[models.Field]) -> tuple[list[Callable[[Any], str]], list[tuple[int, Callable]]]:
    """Per column: the CSV converter (applied to the JSON value) and the columns whose JSON
    value needs converting from the database value.

    Known field types get a specialised converter (the hot loop of a million-row export);
    anything else goes through the generic ``json_value`` / ``csv_value``.
    """
    csv_convs: list[Callable[[Any], str]] = []
    json_fix: list[tuple[int, Callable]] = []
    for index, field in enumerate(fields):
        target = field.target_field if field.is_relation and hasattr(field, "target_field") else field
        kind = type(target)
        if kind in _NUMERIC:
            csv_convs.append(_num_cell)
        elif kind in _TEXT:
            csv_convs.append(_text_cell)
        elif kind is models.BooleanField:
            csv_convs.append(_bool_cell)
        elif kind is models.DateTimeField:
            csv_convs.append(_text_cell)
            json_fix.append((index, _datetime_json))
        elif kind is models.JSONField:
            csv_convs.append(_json_cell)
        else:
            csv_convs.append(csv_value)
            json_fix.append((index, json_value))
    return csv_convs, json_fix


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


def _write_table(archive: zipfile.ZipFile, workdir: Path, tenant, table: walk.DataTable,
                 entries: dict, on_rows: Callable[[int], None], batch: int) -> dict:
    fields = walk.exportable_fields(table.model)
    columns = walk.column_names(fields)
    pk_index = columns.index(table.model._meta.pk.attname)
    csv_convs, json_fix = _converters(fields)
    stem = table_file_stem(table)
    jsonl_tmp = workdir / "table.jsonl"
    count = 0
    with archive.open(stem + ".csv", "w", force_zip64=True) as csv_entry, jsonl_tmp.open("wb") as jsonl_raw:
        csv_sink, jsonl_sink = _Sink(csv_entry), _Sink(jsonl_raw)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writerow = writer.writerow
        writerow(columns)
        csv_sink.write(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
        cursor = None
        while True:
            with tenant_context(tenant):
                queryset = table.rows(tenant.pk)
                if cursor is not None:
                    queryset = queryset.filter(pk__gt=cursor)
                rows = list(queryset.values_list(*columns)[:batch])
            if not rows:
                break
            buffer.seek(0)
            buffer.truncate()
            lines = []
            for row in rows:
                if json_fix:
                    row = list(row)
                    for index, convert in json_fix:
                        value = row[index]
                        if value is not None:
                            row[index] = convert(value)
                lines.append(json_line(dict(zip(columns, row, strict=True))))
                writerow([convert(value) for convert, value in zip(csv_convs, row, strict=True)])
            csv_sink.write(buffer.getvalue().encode("utf-8"))
            lines.append("")
            jsonl_sink.write("\n".join(lines).encode("utf-8"))
            count += len(rows)
            cursor = rows[-1][pk_index]
            on_rows(len(rows))
            last = len(rows)
            del rows, lines
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
