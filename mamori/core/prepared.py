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

``MAMORI_DB_PREPARED_STATEMENTS`` (default on) turns it off for a connection pooler
that cannot carry prepared statements: PgBouncer before 1.21, or 1.21+ in transaction
mode without ``max_prepared_statements`` (docs/decisions/0021-prepared-hot-statements.md).
"""

from __future__ import annotations

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
