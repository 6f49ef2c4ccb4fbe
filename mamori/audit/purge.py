"""Append-only audit tables on PostgreSQL, and the one way through: ``allow_purge()``.

Two layers guard ``audit_auditevent`` and ``audit_providerevent``:

1. The application role gets only ``SELECT, INSERT`` on them
   (``mamori.tenancy.rls.ensure_app_role`` revokes ``UPDATE, DELETE, TRUNCATE``).
2. A ``BEFORE UPDATE OR DELETE`` row trigger (migration ``audit.0002``) raises for
   everybody, the table owner included. Only a ``DELETE`` in a transaction that
   set ``mamori.audit_purge = 'on'`` passes; an ``UPDATE`` never does.

``allow_purge()`` is for the retention purge (``mamori.evidence``) only::

    with tenant_context(tenant):
        create_digest(chain, up_to_seq=last_purged_seq)   # the signed checkpoint first
        with allow_purge():
            AuditEvent.objects.filter(seq__lte=last_purged_seq, …).delete()

It sets the flag with ``SET LOCAL`` (ends with the transaction) and, because the
application role may not delete at all, switches back to the connecting role
(the table owner) for the block; RLS still applies (forced) with the tenant
setting of the surrounding ``tenant_context``. On SQLite it does nothing: the
chain and the signed digests remain the evidence there. A database owner can
always drop a trigger; the chain and the digests make that visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from mamori.tenancy.rls import APPEND_ONLY_TABLES  # one list, also used by the grants

PURGE_SETTING = "mamori.audit_purge"
TRIGGER_FUNCTION = "mamori_audit_append_only"
TRIGGER_NAME = "mamori_audit_append_only"


def trigger_sql(tables=APPEND_ONLY_TABLES) -> list[str]:
    statements = [
        f"""CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('{PURGE_SETTING}', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only the retention purge may delete audit events (mamori.audit.purge.allow_purge).';
END
$$"""
    ]
    for table in tables:
        statements.append(f'DROP TRIGGER IF EXISTS {TRIGGER_NAME} ON "{table}"')
        statements.append(
            f'CREATE TRIGGER {TRIGGER_NAME} BEFORE UPDATE OR DELETE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"
        )
    return statements


def drop_trigger_sql(tables=APPEND_ONLY_TABLES) -> list[str]:
    statements = [f'DROP TRIGGER IF EXISTS {TRIGGER_NAME} ON "{table}"' for table in tables]
    statements.append(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}()")
    return statements


@contextmanager
def allow_purge() -> Iterator[None]:
    """Let the block DELETE audit events (retention purge only). Needs an open transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("allow_purge() must run inside a transaction.")
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        user, session_user = cursor.fetchone()
        cursor.execute(f"SELECT set_config('{PURGE_SETTING}', 'on', true)")
        if user != session_user:
            cursor.execute("SELECT set_config('role', %s, true)", [session_user])
    try:
        with transaction.atomic():
            yield
    finally:
        if not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT set_config('{PURGE_SETTING}', 'off', true)")
                if user != session_user:
                    cursor.execute("SELECT set_config('role', %s, true)", [user])
