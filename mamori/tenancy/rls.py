"""PostgreSQL row-level security for tenant tables.

Every tenant table gets RLS enabled and FORCED (so even the table owner is
filtered) and one policy comparing ``tenant_id`` with the transaction setting
``mamori.tenant_id``. An unset or empty setting matches no row. The web
application runs as a role that owns no table (``MAMORI_DB_APP_ROLE``).
Use ``EnableTenantRLS`` in the migration that creates a tenant model;
``mamori check`` fails when a tenant table lacks it.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import migrations

POLICY_NAME = "mamori_tenant_isolation"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TENANT_EXPR = "NULLIF(current_setting('mamori.tenant_id', true), '')::bigint"
#: Tables the application role may only read and append to (audit logs; see mamori.audit.purge).
APPEND_ONLY_TABLES = ("audit_auditevent", "audit_providerevent")


def rls_sql(table: str) -> list[str]:
    quoted = f'"{table}"'
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"CREATE POLICY {POLICY_NAME} ON {quoted} USING (tenant_id = {TENANT_EXPR}) "
        f"WITH CHECK (tenant_id = {TENANT_EXPR})",
    ]


#: Third-party tables without a ``tenant_id`` (django-allauth's MFA authenticators, user
#: sessions and social accounts) whose rows belong to one user. Their policy admits a row
#: only when its user is visible, and ``accounts_user`` is itself filtered to the current
#: tenant, so these tables are isolated as strictly as tenant tables.
USER_LINKED_TABLES = {
    "mfa_authenticator": "user_id",
    "usersessions_usersession": "user_id",
    "socialaccount_socialaccount": "user_id",
}


def user_linked_rls_sql(table: str, user_column: str) -> list[str]:
    quoted = f'"{table}"'
    visible_user = f'"{user_column}" IN (SELECT id FROM "accounts_user")'  # noqa: S608 (names from USER_LINKED_TABLES, not input)
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"CREATE POLICY {POLICY_NAME} ON {quoted} USING ({visible_user}) WITH CHECK ({visible_user})",
    ]


def disable_rls_sql(table: str) -> list[str]:
    quoted = f'"{table}"'
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY",
    ]


class EnableTenantRLS(migrations.operations.base.Operation):
    """Migration operation: turn on forced RLS with the tenant policy for one model."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _table(self, app_label, state) -> str:
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in rls_sql(self._table(app_label, to_state)):
            schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in disable_rls_sql(self._table(app_label, from_state)):
            schema_editor.execute(sql)

    def describe(self) -> str:
        return f"Enable forced row-level security on {self.model_name}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"model_name": self.model_name})


class EnableUserLinkedRLS(migrations.operations.base.Operation):
    """Migration operation: forced RLS on a third-party table whose rows belong to a user."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str, user_column: str = "user_id"):
        self.table = table
        self.user_column = user_column

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in user_linked_rls_sql(self.table, self.user_column):
            schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in disable_rls_sql(self.table):
            schema_editor.execute(sql)

    def describe(self) -> str:
        return f"Enable forced user-linked row-level security on {self.table}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"table": self.table, "user_column": self.user_column})


def ensure_app_role(connection) -> None:
    """Create the application role if allowed, and grant it data access (not ownership)."""
    role = settings.DB_APP_ROLE
    if connection.vendor != "postgresql" or not role:
        return
    q = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            # Role names come from settings, never from users; still, only plain identifiers.
            if not _ROLE_NAME.match(role):
                raise ValueError(f"MAMORI_DB_APP_ROLE must be a plain identifier, not {role!r}")
            cursor.execute(
                f"DO $$ BEGIN CREATE ROLE {q} NOLOGIN NOBYPASSRLS; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        cursor.execute("SELECT current_user")
        me = cursor.fetchone()[0]
        if me != role:
            # The owner must be able to SET ROLE to the app role.
            cursor.execute(
                "SELECT pg_has_role(current_user, %s, 'MEMBER')", [role]
            )
            if not cursor.fetchone()[0]:
                cursor.execute(f"GRANT {q} TO CURRENT_USER")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {q}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {q}")
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {q}"
        )
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {q}"
        )
        for table in APPEND_ONLY_TABLES:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{table}"])
            if cursor.fetchone()[0]:
                cursor.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {q}')


def rls_status(connection) -> dict[str, dict[str, bool]]:
    """For every tenant table: is RLS enabled, forced, and does it have Mamori's policy?"""
    from mamori.tenancy.models import tenant_models

    tables = [m._meta.db_table for m in tenant_models()] + list(USER_LINKED_TABLES)
    status: dict[str, dict[str, bool]] = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT c.relrowsecurity, c.relforcerowsecurity, "
                "EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s) "
                "FROM pg_class c WHERE c.relname = %s AND c.relkind = 'r'",
                [POLICY_NAME, table],
            )
            row = cursor.fetchone()
            status[table] = {
                "exists": row is not None,
                "enabled": bool(row and row[0]),
                "forced": bool(row and row[1]),
                "policy": bool(row and row[2]),
            }
    return status
