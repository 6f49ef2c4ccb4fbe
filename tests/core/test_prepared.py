"""Prepared statements for the token lookup and the audit chain writer (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from mamori.audit.events import Actor, record_event
from mamori.audit.models import AuditEvent
from mamori.core.prepared import execute_prepared
from mamori.tenancy.context import tenant_context

pytestmark = pytest.mark.postgres


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_execute_prepared_prepares_only_its_own_statement(db):
    from psycopg import Cursor

    connection.ensure_connection()
    assert connection.connection.prepare_threshold is None  # Django's default: never prepare
    with Cursor(connection.connection) as cursor:
        for _ in range(2):
            execute_prepared(cursor, "SELECT %s::int + 41 AS mamori_probe", [1])
            assert cursor.fetchone() == (42,)
        for _ in range(10):  # Django's own statements stay unprepared
            cursor.execute("SELECT 'not prepared' AS mamori_plain")
    assert connection.connection.prepare_threshold is None
    statements = _prepared()
    assert sum("mamori_probe" in s for s in statements) == 1
    assert not any("mamori_plain" in s for s in statements)


def test_switch_off_runs_the_statement_unprepared(db, settings):
    from psycopg import Cursor

    settings.MAMORI_DB_PREPARED_STATEMENTS = False
    connection.ensure_connection()
    with Cursor(connection.connection) as cursor:
        execute_prepared(cursor, "SELECT %s::int AS mamori_off", [7])
        assert cursor.fetchone() == (7,)
    assert not any("mamori_off" in s for s in _prepared())


def test_api_requests_use_the_prepared_token_lookup_and_stay_isolated(db, tenant, other_tenant, admin,
                                                                       api_token, api_client, settings):
    raw = api_token(admin)
    client = api_client(raw)
    for _ in range(3):
        assert client.get("/api/v1/me").status_code == 200
    lookups = [s for s in _prepared() if "accounts_apitoken" in s]
    assert len(lookups) == 1  # prepared once on this connection, then executed by name
    # The claimed tenant decides the RLS scope of the prepared lookup as well: the same token
    # presented as another tenant's is not found.
    kind, tenant_id, rest = raw.split("_", 2)
    assert tenant_id == str(tenant.pk)
    assert api_client(f"{kind}_{other_tenant.pk}_{rest}").get("/api/v1/me").status_code == 401
    settings.MAMORI_DB_PREPARED_STATEMENTS = False
    assert client.get("/api/v1/me").status_code == 200


def test_a_rolled_back_transaction_keeps_the_chain_statement_usable(db, tenant, admin):
    actor = Actor.for_user(admin)
    with tenant_context(tenant):
        first = record_event("record.updated", actor=actor, after={"n": 1})
    with pytest.raises(ZeroDivisionError), tenant_context(tenant):
        record_event("record.updated", actor=actor, after={"n": 2})
        1 / 0  # noqa: B018
    with tenant_context(tenant):
        second = record_event("record.updated", actor=actor, after={"n": 3})
        assert AuditEvent.objects.filter(seq__gte=first.seq).count() == 2
    assert second.seq == first.seq + 1 and second.prev_hash == first.hash
    assert any("audit_chainhead" in s for s in _prepared())
