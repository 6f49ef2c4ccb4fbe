"""Sign-in events into the tenant's audit log.

These hooks only record what allauth and Django's auth already did; they write
no other state (apart from remembering, in the new session, which sign-in event
opened it). They run inside the request's transaction, and the IP address, user
agent (truncated to 512 characters) and request id come from the request context.

Every sign-in event targets the user (``accounts.user`` and the user's id, or an
empty id for an address that is no account here), so one index serves a user's
history, the home page's "previous sign-in" and the user list's "last sign-in".

- ``auth.login`` — ``after = {"method": …}``: ``password`` (allauth's form),
  ``login_link``, ``invitation``… A view that signs a user in another way calls
  :func:`set_login_method` before ``login()``.
- ``auth.login_failed`` — ``after = {"method", "reason"}`` with reason
  ``bad_credentials``, ``account_inactive`` (suspended) or ``unknown_account``.
  The reason is for the tenant's log only; the sign-in page answers the same.
- ``auth.lockout`` — once per lockout: when a failure starts a lockout of Mamori's
  throttle (``mamori.accounts.throttle``: growing delays per account and per client
  address, kept in the database) or fills one of allauth's ``login_failed`` rate
  limits (``ACCOUNT_RATE_LIMITS``, per IP and per address, the second layer), so
  that the next attempt is refused until ``after["until"]``. Both are merged into
  one event; ``after["scope"]`` lists ``account`` and/or ``ip``. The account's owner
  is e-mailed once per throttle lockout (real, active accounts only). Attempts
  refused during the lockout never reach authentication and are not recorded again.
- ``auth.logout`` — not when the session policy ends the session: that is
  ``auth.session_expired`` (``mamori.accounts.sessions``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime

from allauth.account.signals import authentication_step_completed
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

from mamori.audit.events import Actor, record_event
from mamori.tenancy.context import current_tenant

logger = logging.getLogger("mamori.accounts")

# allauth's list of the authentication steps of this session (allauth.account.internal.flows.login).
AUTH_RECORDS_SESSION_KEY = "account_authentication_methods"
# The session key that names the sign-in event which opened the session (pk, ISO time).
SESSION_SIGNIN_KEY = "_mamori_signin"
USER_TARGET = "accounts.user"


def set_login_method(request, method: str) -> None:
    """Say how the next ``login()`` of this request authenticated the user (default ``password``)."""
    request._mamori_login_method = method


def _method_from_authentication_records(request) -> str:
    """How the user authenticated, when ``login()`` runs in a later request than the first
    factor (allauth's second-factor stage): the newest first-factor entry of allauth's
    authentication records in the session (``socialaccount`` → the tenant's SSO protocol)."""
    session = getattr(request, "session", None) if request is not None else None
    records = session.get(AUTH_RECORDS_SESSION_KEY) if session is not None else None
    for record in reversed(records if isinstance(records, list) else []):
        method = record.get("method") if isinstance(record, dict) else None
        if method == "socialaccount":
            from mamori.sso.models import SsoConnection

            protocol = SsoConnection.objects.values_list("protocol", flat=True).first()
            return f"sso_{protocol}" if protocol else "sso"
        if method in ("password", "password_reset"):
            return "password"
    return "password"


def _user_target(user) -> tuple[str, str, str]:
    return (USER_TARGET, str(user.pk), user.email)


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    if current_tenant() is None:
        return
    method = getattr(request, "_mamori_login_method", None) if request is not None else None
    if method is None:
        method = _method_from_authentication_records(request)
    event = record_event("auth.login", actor=Actor.for_user(user), target=_user_target(user),
                         after={"method": method})
    session = getattr(request, "session", None) if request is not None else None
    if session is not None:
        session[SESSION_SIGNIN_KEY] = [event.pk, event.occurred_at.isoformat()]
        from mamori.accounts.sessions import start_session

        start_session(session)  # the session policy's clock (idle timeout, absolute lifetime)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if current_tenant() is None or user is None:
        return
    if getattr(request, "_mamori_session_expired", False):
        return  # recorded as auth.session_expired (mamori.accounts.sessions)
    record_event("auth.logout", actor=Actor.for_user(user), target=_user_target(user))


def _failure_method(request) -> str:
    match = getattr(request, "resolver_match", None) if request is not None else None
    if match is not None and match.url_name == "account_reauthenticate":
        return "reauthentication"
    return "password"


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    if current_tenant() is None:
        return
    from mamori.accounts.models import User

    email = str(credentials.get("email") or credentials.get("username") or "").strip()[:254]
    user = User.objects.filter(email__iexact=email).first() if email else None
    if user is None:
        reason, target = "unknown_account", (USER_TARGET, "", email)
    else:
        reason = "bad_credentials" if user.is_active else "account_inactive"
        target = _user_target(user)
    method = _failure_method(request)
    record_event("auth.login_failed", actor=Actor.anonymous(email), target=target,
                 after={"method": method, "reason": reason})
    if request is not None:
        _record_lockout(request, credentials, target, method)


# --- Lockout --------------------------------------------------------------------------------

def _exhausted_limits(request, credentials) -> list[tuple[str, str, float, int]]:
    """allauth's ``login_failed`` limits this request has just filled: (scope, cache key, until, count).

    allauth counts an attempt before authenticating and keeps the count when it
    fails, so by the time ``user_login_failed`` is sent the failure is in the history.
    """
    from allauth.account.adapter import get_adapter
    from allauth.core.internal import ratelimit

    try:
        rates = ratelimit.get_rates(app="allauth.account", action="login_failed")
        key = get_adapter(request)._get_login_attempts_cache_key(request, **credentials)
    except Exception:  # noqa: BLE001 — monitoring must never break a sign-in
        logger.exception("cannot read allauth's login_failed rate limits")
        return []
    now = time.time()
    exhausted = []
    for rate in rates:
        if rate.per not in ("ip", "key"):  # a per-user limit cannot apply to an anonymous attempt
            continue
        cache_key = ratelimit.get_cache_key(request, app="allauth.account", action="login_failed",
                                            rate=rate, key=key)
        history = [stamp for stamp in cache.get(cache_key, []) if stamp > now - rate.duration]
        if len(history) >= rate.amount:
            until = min(history) + rate.duration
            exhausted.append(("account" if rate.per == "key" else rate.per, cache_key, until, len(history)))
    return exhausted


def _record_lockout(request, credentials, target, method: str) -> None:
    """Count the failure in Mamori's throttle and record one ``auth.lockout`` for whatever
    this failure has just locked (throttle counters and allauth's rate limits together)."""
    from mamori.accounts import throttle

    email = str(credentials.get("email") or credentials.get("username") or "")
    lockout = throttle.register_failure(request, kind=throttle.PASSWORD, account_key=email)
    newly = []
    now = time.time()
    for scope, cache_key, until, count in _exhausted_limits(request, credentials):
        marker = "mamori:lockout:" + hashlib.sha256(cache_key.encode()).hexdigest()
        # One event per lockout: the marker lives exactly as long as the lockout does.
        if cache.add(marker, until, timeout=max(1, int(until - now) + 1)):
            newly.append((scope, until, count))
    if lockout is None and not newly:
        return
    if lockout is None:
        lockout = throttle.Lockout(kind=throttle.PASSWORD, account_key=email)
    throttle.record_lockout(
        request, lockout, method=method,
        extra_scopes=[item[0] for item in newly],
        until=datetime.fromtimestamp(max(item[1] for item in newly), UTC) if newly else None,
        failures=max((item[2] for item in newly), default=0),
    )


@receiver(authentication_step_completed)
def rotate_session_after_reauthentication(sender, request, user, method, **kwargs) -> None:
    """A confirmed password or second factor gives the session a new id (ASVS 5.0 V7.2.4),
    as signing in does; the "My sessions" row follows the new id."""
    if not kwargs.get("reauthenticated") or not hasattr(request, "session"):
        return
    from allauth.usersessions.models import UserSession

    old_key = request.session.session_key
    request.session.cycle_key()
    if old_key:
        UserSession.objects.filter(user_id=user.pk, session_key=old_key).update(
            session_key=request.session.session_key)
