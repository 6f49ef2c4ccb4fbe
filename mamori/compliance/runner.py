"""Run the control checks and store what they found (``mamori controls check``, the daily
job, the provider console's "run now").

Every check runs on its own, in a savepoint, timed:

* any exception it raises is caught and stored as ``error`` with the exception's type and
  message — never ``pass``; the next check runs;
* a check that runs longer than ``MAMORI_CONTROL_CHECK_TIMEOUT_SECONDS`` is stopped and
  stored as ``error`` ("timed out"): on PostgreSQL each check's statements run under
  ``SET LOCAL statement_timeout``; in the main thread a timer interrupts pure-Python work
  too (``signal.setitimer``), so one slow check cannot hold the others back;
* its duration is stored with its result.

The results are saved together with the run and one provider-log event
(``controls.checked``) by :func:`mamori.compliance.actions.record_control_run`.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation

from mamori.compliance import registry
from mamori.compliance.registry import ERROR, ORGANISATIONAL, STATUSES, CheckResult, Control
from mamori.compliance.sections import SECTIONS
from mamori.tenancy.context import use_tenant

TRIGGERS = ("cli", "worker", "console")


class CheckTimeout(Exception):
    """A check ran longer than ``MAMORI_CONTROL_CHECK_TIMEOUT_SECONDS``."""


class _Rollback(Exception):
    """Raised inside a check's savepoint so whatever the check changed is undone."""


@dataclass
class Outcome:
    """One check's result as the runner saw it (before it is stored)."""

    control: Control
    status: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    checked_at: datetime | None = None
    duration_ms: int = 0
    summaries: dict[str, str] = field(default_factory=dict)  # language -> summary


def timeout_seconds() -> float:
    return float(getattr(settings, "MAMORI_CONTROL_CHECK_TIMEOUT_SECONDS", 60) or 0)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with ``CheckTimeout`` after ``seconds`` (main thread only; elsewhere
    only the database statement timeout applies)."""
    usable = (seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expired(signum, frame):  # noqa: ARG001
        raise CheckTimeout(f"the check ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _json_safe(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence as stored: JSON round-trip (lazy strings, dates … become strings)."""
    return json.loads(json.dumps(evidence, default=str))


def _languages() -> list[str]:
    """The default language first, then the others of ``LANGUAGES``."""
    default = settings.LANGUAGE_CODE[:2]
    return [default] + [code[:2] for code, _name in settings.LANGUAGES if code[:2] != default]


def _attempt(item: Control, seconds: float) -> CheckResult:
    """One call of the check in a savepoint that is always rolled back, under the time limit."""
    result: CheckResult | None = None
    try:
        with transaction.atomic():
            if seconds > 0 and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = %s", [int(seconds * 1000)])
            # Checks read across tenants: none is active while they run (each tenant table is read
            # inside that tenant's context, so PostgreSQL's row-level security agrees).
            with use_tenant(None), _time_limit(seconds):
                result = item.check()
            if not isinstance(result, CheckResult):
                raise TypeError(f"check returned {type(result).__name__}, not CheckResult")
            # Checks only read; anything a check wrote by mistake is rolled back here.
            raise _Rollback
    except _Rollback:
        pass
    if result is None:  # unreachable: the block above either raised or set it
        raise RuntimeError(f"control {item.key} produced no result")
    return result


def run_one(item: Control) -> Outcome:
    """Run one check; never raises. The first run (default language) decides the status and the
    evidence; the check runs again in each other language for its summary only (expensive
    readings are shared through ``mamori.compliance.live.memo``)."""
    from mamori.compliance.live import memo_scope

    seconds = timeout_seconds()
    started = time.monotonic()
    languages = _languages()
    result: CheckResult | None = None
    summaries: dict[str, str] = {}
    error = ""
    with memo_scope():
        try:
            with translation.override(languages[0]):
                result = _attempt(item, seconds)
                summaries[languages[0]] = str(result.summary)
        except Exception as exc:  # noqa: BLE001 — every failure of a check is reported, never swallowed as pass
            error = f"{type(exc).__name__}: {exc}"[:4000]
        if result is not None:
            for language in languages[1:]:
                try:
                    with translation.override(language):
                        other = _attempt(item, seconds)
                except Exception:  # noqa: BLE001, S112 — the default language's result stands
                    continue
                if other.status == result.status:
                    summaries[language] = str(other.summary)
    duration_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    if result is None:
        return Outcome(item, ERROR, error, {"exception": error.split(":", 1)[0]}, error, now, duration_ms)
    status = result.status
    if item.organisational and status not in (ORGANISATIONAL, ERROR):
        status = ORGANISATIONAL
    try:
        evidence = _json_safe(result.evidence)
    except (TypeError, ValueError) as exc:
        message = f"{type(exc).__name__}: evidence is not JSON: {exc}"
        return Outcome(item, ERROR, message, {}, message, now, duration_ms)
    return Outcome(item, status, str(result.summary), evidence, "", now, duration_ms, summaries)


def select(keys: Iterable[str] | None = None, clause: str | None = None) -> list[Control]:
    """The controls to run: all, those of one clause, or the given keys (unknown keys raise
    ``KeyError``; a clause without controls raises ``KeyError`` too)."""
    order = {section.key: index for index, section in enumerate(SECTIONS)}
    items = sorted(registry.controls(), key=lambda c: (order.get(c.section, len(order)),
                                                       registry._clause_key(c.clause), c.key))
    if keys:
        wanted = list(dict.fromkeys(keys))
        known = {c.key for c in items}
        unknown = [k for k in wanted if k not in known]
        if unknown:
            raise KeyError(", ".join(unknown))
        items = [c for c in items if c.key in wanted]
    if clause:
        items = [c for c in items if c.clause == clause or c.key == clause or c.key.startswith(f"{clause}-")]
        if not items:
            raise KeyError(clause)
    return items


def count(statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    total = 0
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
        total += 1
    counts["total"] = total
    return counts


def run_checks(keys: Iterable[str] | None = None, clause: str | None = None, trigger: str = "cli",
               actor=None):
    """Run the selected checks, store the run and its results, return the ``ControlRun``."""
    from mamori.audit.events import Actor
    from mamori.compliance.actions import record_control_run

    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    items = select(keys, clause)
    started_at = timezone.now()
    outcomes = [run_one(item) for item in items]
    return record_control_run(actor=actor or Actor.system(f"control checks ({trigger})"), trigger=trigger,
                              started_at=started_at, outcomes=outcomes)
