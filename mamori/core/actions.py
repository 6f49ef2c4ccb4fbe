"""The ``@action`` decorator: what makes a function an action.

An action runs in one transaction (a savepoint when nested in a request's
transaction). When it refuses with ``PermissionDenied``, its own writes roll
back, but the refusal itself is then recorded as an ``access.denied`` audit
event in a fresh savepoint, so every rejected privileged attempt leaves a trace.
Every decorated function is listed in ``ACTIONS`` so coverage tests can walk them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction

from mamori.access.errors import PermissionDenied

P = ParamSpec("P")
R = TypeVar("R")

ACTIONS: dict[str, Callable] = {}


def action(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with transaction.atomic():
                return fn(*args, **kwargs)
        except PermissionDenied as exc:
            _record_denial(exc, f"{fn.__module__}.{fn.__name__}")
            raise
        except AuditedRefusal as exc:
            exc.record()
            raise

    ACTIONS[f"{fn.__module__}.{fn.__name__}"] = wrapper
    wrapper.is_action = True  # type: ignore[attr-defined]
    return wrapper


class AuditedRefusal(ValidationError):
    """A refusal (field-level, like any ``ValidationError``) that must leave an audit event even
    though the action's own writes roll back: ``@action`` writes ``event`` in a fresh savepoint
    after the rollback, as it does ``access.denied`` for ``PermissionDenied``. For refusals a
    security officer wants to see, such as an upload refused as malware."""

    def __init__(self, message, *, event: str, actor, target=None, after: dict | None = None):
        super().__init__(message)
        self.event, self.actor, self.target, self.after = event, actor, target, after or {}
        self.recorded = False

    def record(self) -> None:
        from mamori.audit.events import record_event

        if self.recorded:
            return
        with transaction.atomic():
            record_event(self.event, actor=self.actor, target=self.target, after=self.after)
        self.recorded = True


def _record_denial(exc: PermissionDenied, action_name: str) -> None:
    from mamori.audit.events import record_event
    from mamori.tenancy.context import current_tenant

    if exc.recorded or exc.actor is None or current_tenant() is None:
        return
    with transaction.atomic():
        record_event("access.denied", actor=exc.actor,
                     after={"permission": str(exc.permission), "action": action_name})
    exc.recorded = True
