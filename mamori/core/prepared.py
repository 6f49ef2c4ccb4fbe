"""Server-side prepared statements for Mamori's own hot statements on PostgreSQL.

Django disables psycopg's prepared statements (``prepare_threshold=None``) and binds
parameters on the client, so PostgreSQL parses, rewrites and plans every statement
again. For ordinary ORM queries that is cheap. Two of Mamori's statements run on
almost every request and are not cheap to plan: the API token lookup (three tables,
two ``EXISTS`` subqueries, each table under its row-level-security policy) and the
audit chain writer (head upsert and event insert in one statement). Planning them took
about 350 µs of server CPU each against 30–80 µs to execute them prepared
(bench/api_bench_findings.md, round 9).

``execute_prepared`` runs one statement with psycopg's protocol-level prepared
statements: prepared on the first use on a connection, then executed by name. Only
these call sites use it; Django's own queries are unchanged. psycopg keeps the
statement cache per connection and drops it when the connection closes.

``first_statements`` (below) opens a request transaction in one round trip, with the
token lookup ``PREPARE``d in SQL. ``MAMORI_DB_PREPARED_STATEMENTS`` (default on) turns
both kinds off behind a transaction pooler such as PgBouncer in transaction mode
(docs/decisions/0012-prepared-hot-statements.md, docs/operations/postgresql.md).
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from typing import Any

from django.conf import settings

#: A threshold psycopg's automatic preparation never reaches: while it is set, only the
#: statements executed with ``prepare=True`` are prepared.
_ONLY_WHEN_ASKED = 2**31 - 1


def prepared_enabled() -> bool:
    return bool(getattr(settings, "MAMORI_DB_PREPARED_STATEMENTS", True))


def execute_prepared(cursor, sql: str, params: Sequence[Any] | dict[str, Any]) -> None:
    """``cursor.execute(sql, params)`` on a server-binding psycopg cursor, as a prepared
    statement when enabled. Django's connections have preparation switched off; it is
    switched on for this one call (other statements are never prepared: the threshold
    is out of reach) and restored."""
    if not prepared_enabled():
        cursor.execute(sql, params)
        return
    connection = cursor.connection
    saved = connection.prepare_threshold
    connection.prepare_threshold = _ONLY_WHEN_ASKED if saved is None else saved
    try:
        cursor.execute(sql, params, prepare=True)
    finally:
        connection.prepare_threshold = saved


# --- One round trip to open a tenant's transaction ------------------------------------------
#
# A PostgreSQL request transaction used to start with three round trips before its first
# query: psycopg's ``BEGIN``, the RLS ``set_config`` and (API) the prepared token lookup.
# ``first_statements`` sends them as one simple-query string instead. Parameters are quoted
# by psycopg (``sql.Literal``), and a statement that needs planning once (the token lookup)
# runs as an SQL-level ``PREPARE``d statement, ``EXECUTE``d by name: the simple-query
# protocol cannot carry psycopg's protocol-level prepared statements.


class SqlPrepared:
    """A statement ``PREPARE``d by name in SQL, once per connection.

    ``sql`` uses ``$1``, ``$2`` … placeholders, ``types`` their PostgreSQL types.
    Which connections have it is remembered per psycopg connection (statements live as
    long as the session); ``first_statements`` corrects that memory when the server
    says otherwise.
    """

    def __init__(self, name: str, types: Sequence[str], sql: str) -> None:
        # The text's digest in the name: a session (behind a pooler, or of another Mamori
        # version) that holds a different statement under the same base name is never used.
        digest = hashlib.sha256(f"{tuple(types)}{sql}".encode()).hexdigest()[:12]
        self.name = f"{name}_{digest}"
        self.types = tuple(types)
        self.sql = sql
        self._on: weakref.WeakSet = weakref.WeakSet()

    def is_prepared_on(self, pg) -> bool:
        return pg in self._on

    def mark(self, pg, prepared: bool) -> None:
        if prepared:
            self._on.add(pg)
        else:
            self._on.discard(pg)

    def prepare_sql(self) -> bytes:
        return f"PREPARE {self.name}({', '.join(self.types)}) AS {self.sql}".encode()

    def execute_sql(self, pg, params: Sequence[Any]) -> bytes:
        from psycopg import sql

        args = b", ".join(sql.Literal(p).as_bytes(pg) for p in params)
        return f"EXECUTE {self.name}(".encode() + args + b")"


#: SQLSTATE of "prepared statement … does not exist" and "… already exists": the server's
#: session is not the one Mamori remembers (a pooler in between, or ``DISCARD ALL``).
_MISSING, _DUPLICATE = "26000", "42P05"


def first_statements(connection, statements: Sequence[bytes], then: SqlPrepared | None = None,
                     params: Sequence[Any] = ()):
    """Run ``statements`` (and then ``then(*params)``) in one round trip; the last result.

    When Django has opened a transaction (``atomic``) that PostgreSQL has not started yet,
    the string starts with psycopg's own ``BEGIN`` (same isolation options), so the
    transaction and its first statements cost one round trip. Returns the
    ``PGresult`` of the last statement, or ``None`` when this path cannot be used (no
    open Django transaction, pipeline mode; for ``then``: prepared statements switched
    off, or a transaction already started): the caller then runs its statements the
    ordinary way.
    Errors are raised as Django's ``DatabaseError`` family, the transaction left for
    ``atomic`` to roll back.
    """
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return None
    if then is not None and not prepared_enabled():
        return None
    connection.ensure_connection()
    pg = connection.connection
    if pg.autocommit or getattr(pg, "_pipeline", None) is not None:
        return None
    from psycopg import pq

    opening = pg.pgconn.transaction_status == pq.TransactionStatus.IDLE
    if then is not None and not opening:
        # Inside a started transaction a missing statement could not be retried without
        # aborting it: the caller's protocol-level path is used instead.
        return None
    for _attempt in range(3):
        parts = [_begin_command(pg)] if opening else []
        parts.extend(statements)
        if then is not None:
            if not then.is_prepared_on(pg):
                parts.append(then.prepare_sql())
            parts.append(then.execute_sql(pg, params))
        with connection.wrap_database_errors:
            results = _simple_query(pg, b"; ".join(parts))
        failed = next((r for r in results if r.status == pq.ExecStatus.FATAL_ERROR), None)
        if failed is None:
            if then is not None:
                then.mark(pg, True)
            return results[-1]
        state = failed.error_field(pq.DiagnosticField.SQLSTATE)
        state = state.decode() if state else ""
        if then is not None and state in (_MISSING, _DUPLICATE):
            # Our memory of the session was wrong: psycopg sends DEALLOCATE ALL after a rollback
            # when it holds prepared statements of its own, and a pooler may have switched
            # server sessions. Correct it and start the transaction again.
            with connection.wrap_database_errors:
                _simple_query(pg, b"ROLLBACK")
            then.mark(pg, state == _DUPLICATE)
            continue
        _raise(connection, pg, failed)
    # Still not right after two corrections (a transaction pooler handing out different server
    # sessions): the transaction was rolled back; the caller's protocol-level path takes over.
    return None


def _begin_command(pg) -> bytes:
    """psycopg's ``BEGIN`` for this connection (isolation level, read only, deferrable)."""
    from psycopg import IsolationLevel

    parts = [b"BEGIN"]
    if pg.isolation_level is not None:
        parts += [b"ISOLATION LEVEL", IsolationLevel(pg.isolation_level).name.replace("_", " ").encode()]
    if pg.read_only is not None:
        parts.append(b"READ ONLY" if pg.read_only else b"READ WRITE")
    if pg.deferrable is not None:
        parts.append(b"DEFERRABLE" if pg.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def _simple_query(pg, command: bytes) -> list:
    from psycopg import generators

    with pg.lock:
        pg.pgconn.send_query(command)
        return pg.wait(generators.execute(pg.pgconn))


def _raise(connection, pg, result) -> None:
    from psycopg import errors

    with connection.wrap_database_errors:
        raise errors.error_from_result(result, encoding=pg.info.encoding)


def first_row(connection, result) -> tuple | None:
    """The first row of a ``first_statements`` result, loaded with the connection's adapters."""
    if result is None or result.ntuples == 0:
        return None
    from psycopg.adapt import Transformer

    transformer = Transformer(connection.connection)
    transformer.set_pgresult(result)
    return transformer.load_row(0, tuple)
