"""Brute-force throttle for sign-in secrets: passwords, TOTP codes, recovery codes, WebAuthn.

Contract (callers: the sign-in adapter and the MFA flows)::

    wait = check_allowed(request, kind="password", account_key=email)
    if wait:            # refuse WITHOUT checking the secret; say "try again in …"
        ...
    attempt_failed(request, kind="password", account_key=email)      # after a wrong secret
    attempt_succeeded(request, kind="password", account_key=email)   # after a right one

``kind`` is one of :data:`KINDS`. ``account_key`` names the account: the e-mail address
as typed on the sign-in form, or the signed-in user's e-mail address for the MFA kinds.
It need not be an existing account — unknown addresses are counted and refused exactly
like real ones, so the throttle never reveals which accounts exist.

Two counters per kind and tenant are kept: one per account and one per client address
(``mamori.core.net.client_ip``: the socket address, or the right-most untrusted
``X-Forwarded-For`` hop behind a configured trusted proxy). After ``lock_after``
failures in a row a counter sets a "not before" time: ``base`` seconds, doubling with
every further failure, at most ``max`` (``settings.MAMORI_THROTTLE``). Nothing ever
sleeps in the request: refused attempts are answered at once. Attempts refused during
a wait do not count again (an attacker cannot extend a lockout indefinitely by
hammering, and the owner can sign in as soon as it ends). A success resets the account
counter (not the address counter: a valid account must not wash an address clean). A
counter is forgotten ``forget`` seconds after its last failure.

The counters are rows of ``ThrottleCounter`` in the tenant's database (RLS-protected),
not entries of Django's process-local cache, so every worker process and server sees
the same counts. The first lock of an episode is recorded as ``auth.lockout`` and, for
an account that exists and is active, mailed to its owner once (``account_locked``).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.core.context import current_request_context
from mamori.core.net import client_ip
from mamori.tenancy.context import current_tenant

logger = logging.getLogger("mamori.accounts")

PASSWORD, TOTP, RECOVERY_CODE, WEBAUTHN = "password", "totp", "recovery_code", "webauthn"
KINDS = (PASSWORD, TOTP, RECOVERY_CODE, WEBAUTHN)
ACCOUNT, IP = "account", "ip"


def _config() -> dict:
    return settings.MAMORI_THROTTLE


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown throttle kind {kind!r}; expected one of {KINDS}")


def normalise_account_key(account_key: str) -> str:
    return str(account_key or "").strip().lower()[:254]


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _keys(request, account_key: str) -> list[tuple[str, str]]:
    """(scope, key hash) of the counters an attempt touches."""
    keys = [(ACCOUNT, _hash(normalise_account_key(account_key)))]
    address = client_ip(request) if request is not None else None
    if address:
        keys.append((IP, _hash(address)))
    return keys


def delay_for(failures: int, scope: str) -> float:
    """Seconds to wait after ``failures`` failures in a row (0 below the scope's threshold)."""
    config = _config()
    lock_after = max(1, int(config[scope]["lock_after"]))
    if failures < lock_after:
        return 0.0
    exponent = min(failures - lock_after, 40)
    return float(min(config["max"], config["base"] * 2 ** exponent))


def _is_stale(row, now: datetime) -> bool:
    return row.last_failure_at <= now - timedelta(seconds=_config()[row.scope]["forget"])


def _counters(kind: str, keys: list[tuple[str, str]]):
    from mamori.accounts.models import ThrottleCounter

    rows = ThrottleCounter.objects.filter(kind=kind, key_hash__in=[h for _s, h in keys])
    wanted = set(keys)
    return [row for row in rows if (row.scope, row.key_hash) in wanted]


def check_allowed(request, *, kind: str, account_key: str) -> float:
    """0 when an attempt may be made now, else the seconds to wait (refuse without checking)."""
    _check_kind(kind)
    if current_tenant() is None:
        return 0.0
    now = timezone.now()
    wait = 0.0
    for row in _counters(kind, _keys(request, account_key)):
        if row.blocked_until is not None and row.blocked_until > now and not _is_stale(row, now):
            wait = max(wait, (row.blocked_until - now).total_seconds())
    return wait


@dataclass
class Lockout:
    """What a failure has just locked (a new lockout episode), for the audit event and the mail."""

    kind: str
    account_key: str
    scopes: list[str] = field(default_factory=list)
    failures: int = 0
    until: datetime | None = None


def register_failure(request, *, kind: str, account_key: str) -> Lockout | None:
    """Count one failure on the account and address counters.

    Returns the new lockout when this failure started one (first lock of an episode on
    either counter), else ``None``. Records nothing and sends nothing: see ``attempt_failed``.
    """
    from mamori.accounts.models import ThrottleCounter

    _check_kind(kind)
    if current_tenant() is None:
        return None
    now = timezone.now()
    lockout = Lockout(kind=kind, account_key=normalise_account_key(account_key))
    with transaction.atomic():
        for scope, key_hash in _keys(request, account_key):
            row = (ThrottleCounter.objects.select_for_update()
                   .filter(scope=scope, kind=kind, key_hash=key_hash).first())
            if row is None:
                try:
                    with transaction.atomic():
                        row = ThrottleCounter.objects.create(scope=scope, kind=kind, key_hash=key_hash,
                                                             failures=0, last_failure_at=now)
                except IntegrityError:  # created by a concurrent attempt
                    row = ThrottleCounter.objects.select_for_update().get(scope=scope, kind=kind,
                                                                          key_hash=key_hash)
            elif _is_stale(row, now):
                row.failures, row.blocked_until, row.locked_noticed = 0, None, False
            row.failures += 1
            row.last_failure_at = now
            delay = delay_for(row.failures, scope)
            row.blocked_until = now + timedelta(seconds=delay) if delay else None
            if delay and not row.locked_noticed:
                row.locked_noticed = True
                lockout.scopes.append(scope)
                lockout.failures = max(lockout.failures, row.failures)
                lockout.until = max(lockout.until or row.blocked_until, row.blocked_until)
            row.save(update_fields=["failures", "last_failure_at", "blocked_until", "locked_noticed"])
    return lockout if lockout.scopes else None


def attempt_failed(request, *, kind: str, account_key: str) -> None:
    """Count a failed attempt; when it starts a lockout, record ``auth.lockout`` and mail the owner.

    The caller records the failure itself (``auth.login_failed`` for passwords; the MFA
    flows their own event).
    """
    lockout = register_failure(request, kind=kind, account_key=account_key)
    if lockout is not None:
        record_lockout(request, lockout, method=kind)


def attempt_succeeded(request, *, kind: str, account_key: str) -> None:
    """The secret was right: forget the account's failures of this kind (the address keeps its count)."""
    from mamori.accounts.models import ThrottleCounter

    _check_kind(kind)
    if current_tenant() is None:
        return
    with transaction.atomic():
        ThrottleCounter.objects.filter(scope=ACCOUNT, kind=kind,
                                       key_hash=_hash(normalise_account_key(account_key))).delete()


# --- Lockout: audit event and notice -------------------------------------------------------

def find_account(account_key: str):
    """The active tenant's user with this e-mail address, or ``None``."""
    from mamori.accounts.models import User

    key = normalise_account_key(account_key)
    return User.objects.filter(email__iexact=key).first() if key else None


def record_lockout(request, lockout: Lockout, *, method: str, extra_scopes=(), until: datetime | None = None,
                   failures: int = 0) -> None:
    """One ``auth.lockout`` event for a new lockout (throttle scopes plus any ``extra_scopes``
    from allauth's rate limits), and the owner's notice when the account counter locked."""
    from mamori.accounts.signals import USER_TARGET
    from mamori.audit.events import Actor, record_event

    user = find_account(lockout.account_key)
    target = (USER_TARGET, str(user.pk), user.email) if user is not None else (USER_TARGET, "", lockout.account_key)
    ends = [t for t in (lockout.until, until) if t is not None]
    scopes = sorted({*lockout.scopes, *extra_scopes})
    with transaction.atomic():
        record_event("auth.lockout", actor=Actor.anonymous(target[2]), target=target, after={
            "method": method,
            "scope": scopes,
            "failures": max(lockout.failures, failures),
            "until": max(ends).isoformat(timespec="seconds") if ends else None,
        })
        if ACCOUNT in lockout.scopes and user is not None and user.is_active:
            send_lockout_notice(user, lockout)


def send_lockout_notice(user, lockout: Lockout) -> None:
    from mamori.accounts.mail import send_user_mail, tenant_url

    ctx = current_request_context()
    address = ctx.ip if ctx is not None else None
    send_user_mail("account_locked", user, failures=lockout.failures, kind=lockout.kind, ip=address or "",
                   reset_url=tenant_url(user.tenant, "accounts/password/reset/"))


def wait_message(seconds: float) -> str:
    """"Try again in …" for a refused attempt (the same whether or not the account exists)."""
    seconds = max(1, math.ceil(seconds))
    if seconds <= 1:
        return _("Too many failed attempts. Try again in a moment.")
    if seconds < 120:
        return _("Too many failed attempts. Try again in %(count)d seconds.") % {"count": seconds}
    return _("Too many failed attempts. Try again in %(count)d minutes.") % {"count": math.ceil(seconds / 60)}


__all__ = ["KINDS", "attempt_failed", "attempt_succeeded", "check_allowed", "delay_for", "wait_message",
           "register_failure", "record_lockout", "Lockout"]
