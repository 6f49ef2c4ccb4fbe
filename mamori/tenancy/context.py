"""The active tenant.

One context variable holds the tenant the current request, task or command
works for. ``TenantManager`` refuses to build a query without it, and on
PostgreSQL ``tenant_context`` also sets ``mamori.tenant_id`` and the
application role with ``SET LOCAL`` inside the surrounding transaction, so
row-level security sees the same tenant as the ORM.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction

if TYPE_CHECKING:
    from mamori.tenancy.models import Tenant


class NoTenantError(RuntimeError):
    """A tenant-scoped query was attempted with no active tenant."""


_active: contextvars.ContextVar[Tenant | None] = contextvars.ContextVar("mamori_tenant", default=None)


def current_tenant() -> Tenant | None:
    return _active.get()


def require_tenant() -> Tenant:
    tenant = _active.get()
    if tenant is None:
        raise NoTenantError(
            "No tenant is active. Tenant data is only reachable inside tenant_context(); "
            "provider code that must cross tenants uses an explicit *_across_tenants function."
        )
    return tenant


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def rls_statement(tenant_id: int | None) -> tuple[str, list]:
    """The statement that pins the tenant for RLS: ``mamori.tenant_id`` and the application
    role, both ``SET LOCAL`` (``set_config(…, true)``; ``set_config('role', …, true)`` is
    ``SET LOCAL ROLE``). With no tenant the setting is empty and every policy matches nothing."""
    return _rls_sql(str(tenant_id) if tenant_id is not None else "", settings.DB_APP_ROLE or "")


def _rls_sql(value: str, role: str) -> tuple[str, list]:
    if role:
        return "SELECT set_config('mamori.tenant_id', %s, true), set_config('role', %s, true)", [value, role]
    return "SELECT set_config('mamori.tenant_id', %s, true)", [value]


def rls_statement_bytes(tenant_id: int | None) -> bytes:
    """``rls_statement`` with its values quoted in by psycopg, for a simple-query string."""
    return _rls_statement_bytes(str(tenant_id) if tenant_id is not None else "", settings.DB_APP_ROLE or "")


@functools.lru_cache(maxsize=4096)
def _rls_statement_bytes(value: str, role: str) -> bytes:
    # Cached: it starts every request transaction on PostgreSQL, and formatting cost 20 µs.
    from psycopg import sql

    text, params = _rls_sql(value, role)
    return sql.SQL(text.replace("%s", "{}")).format(*map(sql.Literal, params)).as_bytes(None)


def apply_db_tenant(tenant_id: int | None) -> None:
    """Set the PostgreSQL session variables for RLS in the current transaction.

    Must run inside ``transaction.atomic``: ``SET LOCAL`` ends with the
    transaction, so a pooled connection never carries a tenant into the next
    request. When it is the transaction's first statement, it travels with the
    ``BEGIN`` in one round trip (``mamori.core.prepared.first_statements``).
    """
    if not is_postgres():
        return
    from mamori.core.prepared import first_statements

    if first_statements(connection, [rls_statement_bytes(tenant_id)]) is None:
        sql, params = rls_statement(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


@contextmanager
def tenant_context(tenant: Tenant | None) -> Iterator[Tenant | None]:
    """Run the block for ``tenant`` (or for no tenant) in one transaction.

    On PostgreSQL the block runs as the application role with RLS set to the
    tenant. Nested use with the same tenant is cheap; switching tenants inside
    an outer tenant block is refused, because the outer transaction's RLS
    setting would not match.
    """
    outer = _active.get()
    if outer is not None and tenant is not None and outer.pk != tenant.pk:
        raise NoTenantError("Cannot switch tenant inside another tenant's context.")
    token = _active.set(tenant)
    nested = connection.in_atomic_block
    switching = outer is None or outer.pk != getattr(tenant, "pk", None)
    try:
        with transaction.atomic():
            prior = _db_state() if switching and nested else None
            if switching:
                apply_db_tenant(tenant.pk if tenant is not None else None)
            yield tenant
            if prior is not None:
                # SET LOCAL outlives a released savepoint: put the outer state back.
                _restore_db_state(prior)
    finally:
        _active.reset(token)


def _db_state() -> tuple[str, str, str] | None:
    if not is_postgres():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('mamori.tenant_id', true), current_user, session_user")
        return cursor.fetchone()


def _restore_db_state(state: tuple[str, str, str] | None) -> None:
    if state is None:
        return
    tenant_setting, user, session_user = state
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('mamori.tenant_id', %s, true)", [tenant_setting or ""])
        if user == session_user:
            cursor.execute("RESET ROLE")
        else:
            cursor.execute("SET LOCAL ROLE " + connection.ops.quote_name(user))


@contextmanager
def use_tenant(tenant: Tenant | None) -> Iterator[None]:
    """Switch the active tenant for the rest of an already open transaction.

    For tests and tools that manage their own transaction: the ORM scope and,
    when inside a transaction on PostgreSQL, the RLS setting follow the tenant;
    the previous tenant is put back on exit.
    """
    outer = _active.get()
    token = _active.set(tenant)
    in_transaction = connection.in_atomic_block
    if in_transaction:
        apply_db_tenant(tenant.pk if tenant is not None else None)
    try:
        yield
    finally:
        _active.reset(token)
        if in_transaction and connection.in_atomic_block and not connection.needs_rollback:
            apply_db_tenant(outer.pk if outer is not None else None)


@contextmanager
def bind_tenant(tenant: Tenant | None) -> Iterator[None]:
    """Set the ORM's active tenant only; the caller has already applied it to the database."""
    token = _active.set(tenant)
    try:
        yield
    finally:
        _active.reset(token)


@contextmanager
def request_scope() -> Iterator[None]:
    """Start a request with no tenant, whatever the calling thread had active."""
    token = _active.set(None)
    try:
        yield
    finally:
        _active.reset(token)
