"""Shared pieces of the control-check tests (no conftest: the whitepaper tests live here too)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from django.db import connection

from mamori.compliance import registry, runner
from mamori.compliance.runner import Outcome


def run(key: str) -> Outcome:
    """Run one registered control the way the runner does (savepoint, no active tenant, once per
    language); ``summary`` is the English one, ``summaries`` holds every language."""
    item = registry.get(key)
    assert item is not None, f"control {key} is not registered"
    outcome = runner.run_one(item)
    return dataclasses.replace(outcome, summary=outcome.summaries.get("en", outcome.summary))


@contextlib.contextmanager
def temporary_control(clause: str, check, *, key: str, section: str = "status",
                      organisational: bool = False) -> Iterator[None]:
    """Register a control for the duration of a test."""
    registry.load_checks()
    registry.control(clause, "test control", section=section, key=key, organisational=organisational)(check)
    try:
        yield
    finally:
        registry._controls.pop(key, None)


def as_owner(sql: str, params=None) -> None:
    """Run SQL as the connection's own (owner) role: the tenant fixtures switch the transaction to the
    application role, which may not change a table's row-level security or triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("RESET ROLE")
        cursor.execute(sql, params or [])
