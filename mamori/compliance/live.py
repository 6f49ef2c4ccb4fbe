"""Helpers for control checks that read the live system across tenants.

Tenant tables are read tenant by tenant inside ``tenant_context`` so that PostgreSQL's
row-level security agrees (the checks never switch RLS off to look); provider tables
are read directly.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")
_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mamori_compliance_memo", default=None)


@contextlib.contextmanager
def memo_scope() -> Iterator[None]:
    """The runner runs a check once per language (for its summaries); inside one scope the
    expensive readings (chain verification, deploy checks, stored-value scans) are made once."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def memo(key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per :func:`memo_scope` (every time outside one)."""
    store = _memo.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def tenants_across_tenants(**filters: Any) -> list:
    from mamori.tenancy.models import Tenant

    return list(Tenant.objects.filter(**filters).order_by("pk"))


def for_each_tenant(fn: Callable[[Any], T], **filters: Any) -> Iterator[tuple[Any, T]]:
    """``(tenant, fn(tenant))`` for every tenant (``filters`` narrow them), ``fn`` running inside
    that tenant's context."""
    from mamori.tenancy.context import tenant_context

    for tenant in tenants_across_tenants(**filters):
        with tenant_context(tenant):
            yield tenant, fn(tenant)


def database_tables() -> list[str]:
    """Every table in the database's catalog (the default schema), views excluded."""
    with connection.cursor() as cursor:
        return sorted(info.name for info in connection.introspection.get_table_list(cursor) if info.type == "t")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
