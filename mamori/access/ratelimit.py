"""Request rate limit per API and SCIM token (ASVS 5.0 V2.4.1).

A script with a leaked or buggy token must not be able to take the service for
everyone: each token may make ``MAMORI_API_RATE_LIMIT`` requests (``"1200/60"``:
1,200 per 60 seconds by default; ``"0"`` turns the limit off). Over the limit, the
API answers ``429`` (RFC 9457 problem) and SCIM a ``429`` SCIM error, both with
``Retry-After``; the first refusal of each window is an audit event
(``api.rate_limited`` / ``scim.rate_limited``), the rest are not, so a flood
cannot flood the log too.

The counter is a sliding window (the previous window's count weighted by how much
of it still overlaps, plus the current one), kept in memory per server process: no
cache round trip on every request. With several processes a token can therefore
reach up to the limit times the number of processes (``mamori serve``: 2); the
limit is a guard against runaway clients, not a billing meter.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

# Entries of tokens idle for two windows are dropped once the table holds this many.
_PRUNE_ABOVE = 10_000


@dataclass(frozen=True)
class Limit:
    requests: int
    seconds: int


def parse_limit(value: str) -> Limit | None:
    """``"N/S"`` (N requests per S seconds), or ``"0"``/empty for no limit; ValueError otherwise."""
    value = (value or "").strip()
    if value in ("", "0"):
        return None
    requests, _slash, seconds = value.partition("/")
    limit = Limit(int(requests), int(seconds or 60))
    if limit.requests < 1 or limit.seconds < 1:
        raise ValueError(value)
    return limit


class SlidingWindow:
    """Thread-safe sliding-window counters by key, in this process."""

    def __init__(self, limit: Limit):
        self.limit = limit
        self._lock = threading.Lock()
        self._counts: dict[object, list] = {}  # key → [window index, count, previous count, refused in window]

    def hit(self, key, now: float | None = None) -> tuple[float, bool]:
        """Count one request. ``(0, False)`` if allowed; else ``(seconds to wait, first refusal
        of this window)``."""
        now = time.time() if now is None else now
        size = self.limit.seconds
        window = int(now // size)
        with self._lock:
            entry = self._counts.get(key)
            if entry is None:
                if len(self._counts) >= _PRUNE_ABOVE:
                    self._prune(window)
                entry = self._counts[key] = [window, 0, 0, False]
            elif entry[0] != window:
                previous = entry[1] if entry[0] == window - 1 else 0
                entry[:] = [window, 0, previous, False]
            elapsed = now / size - window
            estimate = entry[2] * (1.0 - elapsed) + entry[1]
            if estimate + 1 > self.limit.requests:
                first = not entry[3]
                entry[3] = True
                return self._wait(entry, elapsed, size), first
            entry[1] += 1
            return 0.0, False

    def _wait(self, entry, elapsed: float, size: int) -> float:
        """Seconds until the weighted previous window has decayed enough for one more request
        (at most the rest of this window)."""
        room = self.limit.requests - 1 - entry[1]
        if room >= 0:  # this window's own count leaves room: wait for the previous one to decay
            # previous × (1 − t) ≤ room  →  t ≥ 1 − room / previous (t: position in this window)
            t = 1.0 - room / entry[2] if entry[2] else elapsed
            return _seconds((t - elapsed) * size)
        # This window alone is full: in the next one it becomes the decaying "previous".
        t_next = max(0.0, 1.0 - (self.limit.requests - 1) / entry[1])
        return _seconds((1.0 - elapsed + t_next) * size)

    def _prune(self, window: int) -> None:
        stale = [key for key, entry in self._counts.items() if entry[0] < window - 1]
        for key in stale:
            del self._counts[key]


def _seconds(value: float) -> float:
    """Whole seconds, rounded up past the exact boundary (where floating point may still refuse)."""
    return float(max(1, math.ceil(value + 1e-6)))


_limiter: SlidingWindow | None = None
_limiter_setting: str | None = None
_limiter_lock = threading.Lock()


def limiter() -> SlidingWindow | None:
    """The process's limiter for the current setting (rebuilt when the setting changes)."""
    global _limiter, _limiter_setting
    value = settings.MAMORI_API_RATE_LIMIT
    if value != _limiter_setting:
        with _limiter_lock:
            if value != _limiter_setting:
                limit = parse_limit(value)
                _limiter = SlidingWindow(limit) if limit is not None else None
                _limiter_setting = value
    return _limiter


def reset() -> None:
    """Forget every count (the test suite, between tests: ids of rolled-back tokens come back)."""
    global _limiter_setting
    with _limiter_lock:
        _limiter_setting = None


def check_token(kind: str, token, *, actor: Callable[[], object]) -> float:
    """Count a request of an API (``kind="api"``) or SCIM token; the seconds to wait if it is over
    the limit (0 if not). The first refusal of a window is audited in the token's tenant, in the
    request transaction; ``actor`` builds the event's actor only then (this runs on every request)."""
    active = limiter()
    if active is None:
        return 0.0
    wait, first = active.hit((kind, token.pk))
    if wait and first:
        from django.db import transaction

        from mamori.audit.events import record_event
        from mamori.tenancy.context import bind_tenant

        # A read on SQLite runs without the request transaction: the event gets its own.
        with bind_tenant(token.tenant), transaction.atomic():
            record_event(f"{kind}.rate_limited", actor=actor(),
                         after={"limit": active.limit.requests, "seconds": active.limit.seconds,
                                "retry_after": int(wait)})
    return wait
