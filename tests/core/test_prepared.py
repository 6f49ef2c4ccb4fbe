"""Prepared statements for the token lookup and the audit chain writer (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

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


# --- One round trip to open a transaction (first_statements) ----------------------------------

def _setting(name: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0]


def _status():
    from psycopg import pq

    return pq.TransactionStatus(connection.connection.pgconn.transaction_status)


def test_first_statements_carry_the_begin_and_the_tenant(transactional_db):
    from django.db import transaction
    from psycopg import pq

    from mamori.core.prepared import first_row, first_statements
    from mamori.tenancy.context import _rls_statement_bytes, rls_statement_bytes

    assert b"'it''s'" in _rls_statement_bytes("it's", "")  # values are quoted by psycopg
    connection.ensure_connection()
    with transaction.atomic():
        assert _status() == pq.TransactionStatus.IDLE  # Django has not sent anything yet
        result = first_statements(connection, [rls_statement_bytes(41)])
        assert first_row(connection, result)[0] == "41"
        assert _status() == pq.TransactionStatus.INTRANS  # the BEGIN went with it
        assert _setting("mamori.tenant_id") == "41"
    assert _status() == pq.TransactionStatus.IDLE
    assert _setting("mamori.tenant_id") in ("", None)  # SET LOCAL: gone with the transaction
    # Outside a transaction the caller's ordinary path is used.
    assert first_statements(connection, [b"SELECT 1"]) is None


def test_first_statements_keep_psycopgs_transaction_options(transactional_db):
    from django.db import transaction
    from psycopg import IsolationLevel

    from mamori.core.prepared import first_statements

    connection.ensure_connection()
    pg = connection.connection
    pg.isolation_level, pg.read_only = IsolationLevel.SERIALIZABLE, True
    try:
        with transaction.atomic():
            first_statements(connection, [b"SELECT 1"])
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('transaction_isolation'), "
                               "current_setting('transaction_read_only')")
                assert cursor.fetchone() == ("serializable", "on")
    finally:
        pg.isolation_level, pg.read_only = None, None


def test_an_error_in_the_first_statements_is_a_database_error_and_rolls_back(transactional_db):
    from django.db import DatabaseError, transaction

    from mamori.core.prepared import first_statements

    connection.ensure_connection()
    with pytest.raises(DatabaseError, match="division by zero"), transaction.atomic():
        first_statements(connection, [b"SELECT set_config('mamori.tenant_id', '7', true)", b"SELECT 1/0"])
    with connection.cursor() as cursor:  # the connection is usable afterwards
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def _lookups_in_sql() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE from_sql")
        return [row[0].rsplit("_", 1)[0] for row in cursor.fetchall()]


def test_an_api_request_opens_with_begin_tenant_and_lookup_in_one_string(transactional_db, tenant,
                                                                          other_tenant, admin, api_token,
                                                                          api_client, settings):
    """The request transaction's first round trip carries BEGIN, the RLS set_config and the
    token lookup, EXECUTEd by name; isolation and recovery hold on this path."""
    raw = api_token(admin)
    client = api_client(raw)
    assert client.get("/api/v1/me").status_code == 200
    assert _lookups_in_sql() == ["mamori_token_lookup"]
    assert client.get("/api/v1/me").json()["email"] == admin.email
    # The same token claimed for another tenant runs under that tenant's RLS: not found.
    kind, _tenant_id, rest = raw.split("_", 2)
    assert api_client(f"{kind}_{other_tenant.pk}_{rest}").get("/api/v1/me").status_code == 401
    # psycopg sends DEALLOCATE ALL after a rollback when it holds statements of its own; a
    # statement that vanished is prepared again, and the request still succeeds.
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert client.get("/api/v1/me").status_code == 200
    assert _lookups_in_sql() == ["mamori_token_lookup"]
    # And a statement Mamori forgot it had is not prepared twice.
    from mamori.accounts.tokens import _lookup_statement

    _lookup_statement(connection).mark(connection.connection, False)
    assert client.get("/api/v1/me").status_code == 200
    assert _lookup_statement(connection).is_prepared_on(connection.connection)
    # Switched off: no SQL-level statement is used.
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    settings.MAMORI_DB_PREPARED_STATEMENTS = False
    assert client.get("/api/v1/me").status_code == 200
    assert _lookups_in_sql() == []


def test_a_console_request_opens_its_tenant_transaction_in_one_string(transactional_db, tenant):
    """apply_db_tenant's set_config travels with the BEGIN; RLS sees the tenant."""
    from django.db import transaction

    from mamori.records.models import Workspace
    from mamori.tenancy.context import apply_db_tenant

    connection.ensure_connection()
    with transaction.atomic():
        apply_db_tenant(tenant.pk)
        assert _setting("mamori.tenant_id") == str(tenant.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == settings_role()
        assert Workspace.objects_across_tenants.exclude(tenant_id=tenant.pk).count() == 0
    # A console request opens its transaction this way too (anonymous: the sign-in redirect).
    response = Client().get(f"/t/{tenant.slug}/")
    assert response.status_code == 302 and "/login" in response["Location"]


def settings_role() -> str:
    from django.conf import settings

    return settings.DB_APP_ROLE or connection.settings_dict["USER"]


def test_a_statement_that_never_sticks_falls_back_to_the_protocol_path(transactional_db, tenant, admin,
                                                                        api_token, api_client, monkeypatch):
    """Behind a transaction pooler each attempt may land on another server session: after two
    corrections the request uses psycopg's protocol-level statement instead, and succeeds."""
    from mamori.core.prepared import SqlPrepared

    client = api_client(api_token(admin))
    monkeypatch.setattr(SqlPrepared, "execute_sql", lambda self, pg, params: b"EXECUTE mamori_nowhere(1)")
    assert client.get("/api/v1/me").status_code == 200
    assert any("accounts_apitoken" in s for s in _prepared())  # the protocol-level lookup ran
