"""The control registry: one check function per clause of ``shared/spec/controls.md``.

A check reads the running system (settings, database catalog, newest backup, audit chain,
probe results…) and returns a :class:`CheckResult`: ``pass``, ``fail`` or ``not_applicable``
with the evidence it read, so that the whitepaper can quote the values and an auditor can
see why. Controls that software cannot verify (training, law…) are registered with
``organisational=True``: their result is ``organisational`` and their evidence is the
provider-profile text that fills them (or the names of the missing profile fields).

Checks live in ``mamori/compliance/checks/<topic>.py`` and register themselves::

    from mamori.compliance.registry import CheckResult, control

    @control("10.1.1", _("Passwords hashed with Argon2id"), section="cryptography")
    def password_hasher() -> CheckResult:
        ...
        return CheckResult.passed(_("password hasher: Argon2id m=%(m)d KiB t=%(t)d") % {...},
                                  hasher="argon2id", memory_kib=m, time_cost=t)

A check never decides its own error handling: the runner (``mamori.compliance.runner``)
catches any exception and reports ``error`` with its message — never ``pass``.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PASS = "pass"  # noqa: S105 (a check status, not a password)
FAIL = "fail"
NOT_APPLICABLE = "not_applicable"
ERROR = "error"
ORGANISATIONAL = "organisational"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, ERROR, ORGANISATIONAL)


@dataclass(frozen=True)
class CheckResult:
    """What a check found. ``summary`` is one translated sentence quoting the values read;
    ``evidence`` holds the same values as JSON-serialisable data (str, int, float, bool,
    None, lists and dicts of those)."""

    status: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @classmethod
    def passed(cls, summary: str, **evidence: Any) -> CheckResult:
        return cls(PASS, str(summary), evidence)

    @classmethod
    def failed(cls, summary: str, **evidence: Any) -> CheckResult:
        return cls(FAIL, str(summary), evidence)

    @classmethod
    def not_applicable(cls, summary: str, **evidence: Any) -> CheckResult:
        return cls(NOT_APPLICABLE, str(summary), evidence)

    @classmethod
    def organisational(cls, summary: str, **evidence: Any) -> CheckResult:
        return cls(ORGANISATIONAL, str(summary), evidence)


@dataclass(frozen=True)
class Control:
    """One registered control. ``key`` is unique (``clause`` plus a suffix when a clause has
    several checks, e.g. ``"9.2.4-policy"``); ``clause`` is the ISO/IEC 27002/27017 number
    as the whitepapers print it; ``section`` groups controls into whitepaper sections."""

    key: str
    clause: str
    title: Any  # lazy translated string
    section: str
    check: Callable[[], CheckResult]
    organisational: bool = False
    order: int = 0


_controls: dict[str, Control] = {}
_lock = threading.Lock()
_loaded = False


def control(clause: str, title, *, section: str, key: str | None = None,
            organisational: bool = False, order: int = 0):
    """Decorator registering ``check`` as the control ``key`` (default: ``clause``)."""

    from mamori.compliance.sections import SECTION_KEYS

    if section not in SECTION_KEYS:
        raise ValueError(f"unknown whitepaper section {section!r} (mamori/compliance/sections.py)")

    def register(check: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        item = Control(key or clause, clause, title, section, check, organisational, order)
        with _lock:
            if item.key in _controls and _controls[item.key].check is not check:
                raise ValueError(f"control {item.key!r} is registered twice")
            _controls[item.key] = item
        return check

    return register


def load_checks() -> None:
    """Import every module of ``mamori.compliance.checks`` (each registers its controls)."""
    global _loaded
    if _loaded:
        return
    from mamori.compliance import checks

    for module in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{module.name}")
    _loaded = True


def controls() -> list[Control]:
    """All registered controls, sorted by section order then clause."""
    load_checks()
    return sorted(_controls.values(), key=lambda c: (c.order, _clause_key(c.clause), c.key))


def get(key: str) -> Control | None:
    load_checks()
    return _controls.get(key)


def _clause_key(clause: str) -> tuple:
    parts = []
    for piece in clause.replace("CLD.", "").split("-")[0].split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)
