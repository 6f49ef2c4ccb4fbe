"""Reading and writing one table of the tenant export: keyset batches, background threads.

Split out of ``export.py`` so that the concurrency lives in one place: ``_Batches`` builds the
SQL of a table's keyset batches once and fetches each batch in its own short
``tenant_context`` transaction; ``_Reader`` reads the next batch ahead in a second thread
(PostgreSQL outside a transaction, its own connection) or at once (``_Done``); ``_ArchiveWriter``
writes into the ZIP in a background thread (deflate, SHA-256 and file writes overlap with the
conversion); ``_Sink`` counts the bytes and hashes them; ``_no_gc`` keeps the cyclic garbage
collector out of one batch.
"""

from __future__ import annotations

import gc
import hashlib
import queue
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.db import connection, connections, models
from django.db.models.functions import Cast

from mamori.lifecycle import walk
from mamori.lifecycle.export_cells import _NUMERIC
from mamori.lifecycle.export_columns import _Plan, _use_c_loaders
from mamori.tenancy.context import tenant_context

CHUNK = 1 << 20


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


_AFTER = -(2**62) - 7919  # a stand-in for the last key while the SQL of the later batches is built


class _Batches:
    """The SQL of the keyset batches of one table: built by Django once for the first batch and
    once for the later ones (``pk > %s``, the key put in as a parameter), not for every batch."""

    def __init__(self, table: walk.DataTable, tenant_id: int, select: list, batch: int):
        self.table, self.tenant_id, self.select, self.batch = table, tenant_id, select, batch
        sql, params, compiler = _batch_query(table, tenant_id, select, None, batch)
        self.first = (sql, params, compiler.using)
        self.later = None
        if type(table.model._meta.pk) in _NUMERIC:
            sql, params, compiler = _batch_query(table, tenant_id, select, _AFTER, batch)
            where = [i for i, value in enumerate(params) if type(value) is int and value == _AFTER]
            if len(where) == 1:
                self.later = (sql, tuple(params), where[0], compiler.using)

    def query(self, after) -> tuple[str, Any, str]:
        """(SQL, parameters, database alias) of the batch after the key ``after`` (None: the first)."""
        if after is None:
            return self.first
        if self.later is None or type(after) is not int:
            sql, params, compiler = _batch_query(self.table, self.tenant_id, self.select, after, self.batch)
            return sql, params, compiler.using
        sql, params, index, alias = self.later
        return sql, (*params[:index], after, *params[index + 1:]), alias

    def fetch(self, tenant, plan: _Plan, after) -> list[tuple]:
        """The raw rows of one batch (a plain cursor: no model instances, no converters), in one
        short ``tenant_context`` transaction — on this thread's own database connection."""
        with tenant_context(tenant), _no_gc():
            sql, params, alias = self.query(after)
            connection = connections[alias]
            with connection.cursor() as db_cursor:
                _use_c_loaders(db_cursor, connection, plan.pg_time_texts)
                db_cursor.execute(sql, params)
                return db_cursor.fetchall()


class _Done:
    """A batch read at once (the ``concurrent.futures.Future`` interface that ``_write_table`` uses)."""

    def __init__(self, function: Callable, *args):
        self._value = function(*args)

    def result(self):
        return self._value


class _Reader:
    """Reads batches: on PostgreSQL, in a second thread with its own database connection, so that
    the server computes the next batch while this one is converted (``submit`` returns at once);
    elsewhere — and inside a transaction, whose rows another connection would not see — at once."""

    def __init__(self):
        threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mamori-export-read") if threaded else None

    def submit(self, function: Callable, *args):
        return _Done(function, *args) if self._pool is None else self._pool.submit(function, *args)

    def close(self) -> None:
        if self._pool is not None:
            try:
                self._pool.submit(connections.close_all).result()  # the thread's own connection
            finally:
                self._pool.shutdown(wait=True)
                self._pool = None


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection while one batch is read or converted: it builds tens of
    thousands of tuples, lists and dicts (no cycles), which would otherwise start collections
    that walk every object of the process."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _table_plan(table: walk.DataTable, tenant_id: int, fields: list[models.Field],
                columns: list[str]) -> tuple[_Plan, list]:
    """The conversion plan of one table and the select list of its batches."""
    _sql, _params, compiler = _batch_query(table, tenant_id, columns, None, 1)
    plan = _Plan(fields, compiler.get_converters([col for col, _sql, _alias in compiler.select]),
                 compiler.connection)
    select = [Cast(name, models.TextField()) if index in plan.text_casts else name
              for index, name in enumerate(columns)]
    return plan, select


class _ArchiveWriter:
    """Writes the tables into the ZIP in a background thread, in the order given: the
    compression, the SHA-256, the CRC and the file writes (all of which let other threads run
    meanwhile) overlap with reading and converting the next batch. At most ``depth`` batches
    wait (constant memory). An error in the thread (disk full) is raised again in the caller
    by the next call, or by ``close``."""

    def __init__(self, archive: zipfile.ZipFile, workdir: Path, entries: dict, depth: int = 2):
        self.archive, self.workdir, self.entries = archive, workdir, entries
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mamori-export-writer", daemon=True)
        self._thread.start()
        self._csv = self._jsonl = None  # the open table's sinks (used in the thread only)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    item[0](*item[1:])
                except BaseException as exc:  # noqa: BLE001 — raised again in the caller
                    self._error = exc

    def _put(self, *item) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def begin_table(self, stem: str, header: bytes) -> None:
        self._put(self._begin, stem, header)

    def rows(self, jsonl: bytes, csv_bytes: bytes) -> None:
        self._put(self._rows, jsonl, csv_bytes)

    def end_table(self, stem: str) -> None:
        self._put(self._end, stem)

    def close(self) -> None:
        """Wait for everything given so far; raise the thread's error, if any."""
        self.stop()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._csv is not None:  # a table left open by an error (the ZIP cannot close with it open)
            for sink in (self._csv, self._jsonl):
                with suppress(Exception):
                    sink.target.close()
            self._csv = self._jsonl = None

    # in the thread
    def _begin(self, stem: str, header: bytes) -> None:
        self._csv = _Sink(self.archive.open(stem + ".csv", "w", force_zip64=True))
        self._jsonl = _Sink((self.workdir / "table.jsonl").open("wb"))
        self._csv.write(header)

    def _rows(self, jsonl: bytes, csv_bytes: bytes) -> None:
        self._jsonl.write(jsonl)
        self._csv.write(csv_bytes)

    def _end(self, stem: str) -> None:
        csv_sink, jsonl_sink = self._csv, self._jsonl
        csv_sink.target.close()
        jsonl_sink.target.close()
        self._csv = self._jsonl = None
        self.entries[stem + ".csv"] = csv_sink.entry()
        jsonl_tmp = self.workdir / "table.jsonl"
        self.archive.write(jsonl_tmp, arcname=stem + ".jsonl")
        self.entries[stem + ".jsonl"] = jsonl_sink.entry()
        jsonl_tmp.unlink()
