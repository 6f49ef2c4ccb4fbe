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
Django converters, no Python ``datetime`` built and formatted again: times are read as the
database's text (SQLite's stored text; PostgreSQL's ``timestamptz`` output through psycopg's
text loader) and rewritten for a whole column at once. Each batch is converted column by
column (``_Plan``, in ``export_columns``: whole columns through C functions — the JSON scanner
and encoders, ``int.__repr__``, ``str`` methods over the joined column — and one check per
column for cells that need neutralising or quoting), giving output byte-identical to
``json_line`` of each row and ``csv.writer`` of its cells (the per-value rules, in
``export_cells``). On PostgreSQL (outside a transaction, i.e. in a worker) the next batch is
read by a second thread on its own connection while this one is converted (``_Reader``, in
``export_io``); the bytes go to a writer thread (``_ArchiveWriter``, in ``export_io``) that
feeds the ZIP entry (CSV) and a temporary file (JSON lines, added to the ZIP after the table),
SHA-256 computed on the way — deflate, hashing and file writes release the GIL, so they
overlap with the conversion. Files are copied in 1 MiB chunks (``export_files``). The finished
ZIP is handed to the default storage under ``tenants/<id>/exports/``; on any error the partial
files are removed and the export is marked failed with a message.
"""

from __future__ import annotations

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
import zipfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from mamori.audit.canonical import canonical_bytes, format_time
from mamori.lifecycle import walk

# The conversion, the reading and writing threads and the file copying live in export_cells,
# export_columns, export_io and export_files (small modules); the names that callers and tests
# use are re-exported here, so ``mamori.lifecycle.export`` stays the module to import from.
from mamori.lifecycle.export_cells import (  # noqa: F401
    FORMULA_STARTS,
    csv_value,
    json_line,
    json_value,
    neutralise,
    unneutralise,
)
from mamori.lifecycle.export_columns import (  # noqa: F401
    _csv_column,
    _pg_time_json,
    _pg_time_texts,
    _sqlite_time_texts,
)
from mamori.lifecycle.export_files import _write_files, safe_archive_name  # noqa: F401
from mamori.lifecycle.export_io import (  # noqa: F401
    CHUNK,
    _ArchiveWriter,
    _Batches,
    _no_gc,
    _Reader,
    _Sink,
    _table_plan,
)
from mamori.tenancy.context import tenant_context

logger = logging.getLogger(__name__)

FORMAT = "mamori-tenant-export/1"
BATCH = 5000
MANIFEST = "manifest.json"
PUBLIC_KEY = "public_key.pem"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class ExportError(Exception):
    """The export cannot be built; the message is shown to the tenant admin."""



def table_file_stem(table: walk.DataTable) -> str:
    return "tables/" + table.model._meta.label_lower



def _write_table(archive: zipfile.ZipFile, workdir: Path, tenant, table: walk.DataTable,
                 entries: dict, on_rows: Callable[[int], None], batch: int,
                 writer: _ArchiveWriter | None = None, reader: _Reader | None = None) -> dict:
    """Write one table (CSV and JSON lines) into the ZIP, through ``writer`` and ``reader``
    (else its own)."""
    if writer is None or reader is None:
        writer, reader = writer or _ArchiveWriter(archive, workdir, entries), reader or _Reader()
        try:
            result = _write_table(archive, workdir, tenant, table, entries, on_rows, batch, writer, reader)
            writer.close()
        finally:
            writer.stop()
            reader.close()
        return result
    fields = walk.exportable_fields(table.model)
    columns = walk.column_names(fields)
    pk_index = columns.index(table.model._meta.pk.attname)
    stem = table_file_stem(table)
    count = 0
    plan, select = _table_plan(table, tenant.pk, fields, columns)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(columns)
    writer.begin_table(stem, b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    batches = _Batches(table, tenant.pk, select, batch)
    pending = reader.submit(batches.fetch, tenant, plan, None)
    while pending is not None:
        rows = pending.result()
        if not rows:
            break
        pending = None
        if len(rows) == batch:  # else a short batch was the last one
            after = rows[-1][pk_index]
            if plan.pk_convert is not None:
                after = plan.pk_convert(after)
            pending = reader.submit(batches.fetch, tenant, plan, after)  # read while this one is converted
        with _no_gc():
            jsonl, csv_text = plan.encode(rows)
            writer.rows(jsonl.encode("utf-8"), csv_text.encode("utf-8"))
        del jsonl, csv_text
        count += len(rows)
        on_rows(len(rows))
        del rows
    writer.end_table(stem)
    return {"rows": count, "columns": columns, "db_table": table.db_table,
            "csv": stem + ".csv", "jsonl": stem + ".jsonl"}


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
            writer, reader = _ArchiveWriter(archive, workdir, entries), _Reader()
            try:
                for table in tables:
                    manifest_tables[table.label] = _write_table(archive, workdir, tenant, table, entries, on_rows,
                                                                batch, writer, reader)
                writer.close()  # every table in the ZIP (or the writer's error raised)
            finally:
                writer.stop()
                reader.close()
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
