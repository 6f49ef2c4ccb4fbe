"""Console sessions: the tenant's session policy, its enforcement, and the user-sessions list.

Policy (``SessionPolicy``, one row per tenant; absent = the defaults): an idle timeout
(default 30 minutes) and an absolute lifetime (default 12 hours), as NIST SP 800-63B
asks of AAL2 re-authentication. ``SessionPolicyMiddleware`` keeps, in the session, when
the user signed in and when the session was last used, and signs the user out (audit
event ``auth.session_expired``, a message on the sign-in page) once either limit is
passed. The last-use time is written at most once a minute, so the idle timeout is
enforced to within a minute, and the session is not saved on every request.

Each signed-in session also has a row in allauth's ``usersessions_usersession``
(created at sign-in by allauth; its address and "last seen" refreshed here at the same
once-a-minute pace), which is what "My sessions" lists and ends. The table has forced
row-level security through its user (``mamori.tenancy.rls.USER_LINKED_TABLES``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import import_module

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from mamori.tenancy.context import current_tenant

#: Session key: {"start": epoch seconds of the sign-in, "seen": epoch seconds of the last use}.
SESSION_KEY = "_mamori_session"
#: The last-use time is written at most this often (seconds).
ACTIVITY_WRITE_INTERVAL = 60

IDLE_MIN, IDLE_MAX = 1, 24 * 60            # minutes
ABSOLUTE_MIN, ABSOLUTE_MAX = 1, 30 * 24    # hours (30 days: NIST AAL1's limit)
FIELDS = ("idle_timeout_minutes", "absolute_lifetime_hours")


@dataclass(frozen=True)
class SessionLimits:
    idle_timeout_minutes: int = 30
    absolute_lifetime_hours: int = 12

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def idle_seconds(self) -> int:
        return self.idle_timeout_minutes * 60

    @property
    def absolute_seconds(self) -> int:
        return self.absolute_lifetime_hours * 3600


DEFAULT = SessionLimits()


def session_policy_for_tenant(tenant=None) -> SessionLimits:
    """The active tenant's session limits (the defaults without a row or without a tenant)."""
    from mamori.accounts.models import SessionPolicy

    active = current_tenant()
    if active is None or (tenant is not None and tenant.pk != active.pk):
        return DEFAULT
    row = SessionPolicy.objects.filter(tenant_id=active.pk).first()
    if row is None:
        return DEFAULT
    return SessionLimits(row.idle_timeout_minutes, row.absolute_lifetime_hours)


def clean_session_policy(values: dict) -> SessionLimits:
    """Checked limits, or ``ValidationError({field: message})``."""
    errors = {}
    checked = {}
    bounds = {"idle_timeout_minutes": (IDLE_MIN, IDLE_MAX), "absolute_lifetime_hours": (ABSOLUTE_MIN, ABSOLUTE_MAX)}
    for name, (low, high) in bounds.items():
        try:
            value = int(values.get(name))
        except (TypeError, ValueError):
            errors[name] = _("Enter a whole number.")
            continue
        if not low <= value <= high:
            errors[name] = _("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high}
        checked[name] = value
    if not errors and checked["idle_timeout_minutes"] > checked["absolute_lifetime_hours"] * 60:
        errors["idle_timeout_minutes"] = _("The idle timeout cannot be longer than the absolute lifetime.")
    if errors:
        raise ValidationError(errors)
    return SessionLimits(**checked)


def nist_notes(limits: SessionLimits) -> dict[str, str]:
    """For each limit longer than NIST SP 800-63B's AAL2 recommendation, what it says."""
    notes = {}
    if limits.idle_timeout_minutes > DEFAULT.idle_timeout_minutes:
        notes["idle_timeout_minutes"] = _(
            "NIST SP 800-63B asks for re-authentication after at most 30 minutes of inactivity "
            "at AAL2 (multi-factor). Longer idle sessions suit AAL1 only.")
    if limits.absolute_lifetime_hours > DEFAULT.absolute_lifetime_hours:
        notes["absolute_lifetime_hours"] = _(
            "NIST SP 800-63B asks for re-authentication at least every 12 hours at AAL2. "
            "Up to 30 days is acceptable at AAL1 (password only).")
    return notes


# --- Session timestamps ------------------------------------------------------------------------

def start_session(session, now: float | None = None) -> None:
    """Record the sign-in time (called by the ``user_logged_in`` receiver)."""
    now = time.time() if now is None else now
    session[SESSION_KEY] = {"start": now, "seen": now}


def session_times(session) -> dict | None:
    state = session.get(SESSION_KEY)
    if not isinstance(state, dict) or not {"start", "seen"} <= state.keys():
        return None
    return state


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def _session_store(session_key: str | None = None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def delete_user_sessions(user, *, keep: str | None = None) -> int:
    """End the user's sessions (Django's session data and the user-session rows), except
    the session ``keep``. Returns how many rows were removed."""
    from allauth.usersessions.models import UserSession

    rows = list(UserSession.objects.filter(user_id=user.pk).exclude(session_key=keep or ""))
    for row in rows:
        end_session_row(row)
    return len(rows)


def end_session_row(row) -> None:
    """Delete one user-session row and the Django session it stands for."""
    _session_store().delete(row.session_key)
    row.delete()


# --- Middleware --------------------------------------------------------------------------------

class SessionPolicyMiddleware:
    """Sign out console sessions that passed the tenant's idle timeout or absolute lifetime."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self._check(request)
        return response if response is not None else self.get_response(request)

    def _check(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None or getattr(request, "urlconf", None) != "mamori.urls_tenant":
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return None
        now = time.time()
        state = session_times(request.session)
        if state is None:  # a session from before this policy existed: count from now
            start_session(request.session, now)
            return None
        limits = session_policy_for_tenant(tenant)
        reason = None
        if now - state["start"] >= limits.absolute_seconds:
            reason = "absolute"
        elif now - state["seen"] >= limits.idle_seconds:
            reason = "idle"
        if reason is not None:
            return self._expire(request, user, state, limits, reason)
        if now - state["seen"] >= ACTIVITY_WRITE_INTERVAL:
            request.session[SESSION_KEY] = {**state, "seen": now}
            _touch_user_session(request)
        return None

    def _expire(self, request, user, state, limits: SessionLimits, reason: str):
        from mamori.accounts.signals import USER_TARGET
        from mamori.audit.events import Actor, record_event

        with transaction.atomic():
            record_event("auth.session_expired", actor=Actor.for_user(user),
                         target=(USER_TARGET, str(user.pk), user.email), after={
                             "reason": reason,
                             "signed_in_at": _iso(state["start"]),
                             "last_activity": _iso(state["seen"]),
                             **limits.as_dict(),
                         })
            key = request.session.session_key
            if key:
                from allauth.usersessions.models import UserSession

                UserSession.objects.filter(session_key=key).delete()
            request._mamori_session_expired = True  # the logout receiver records no auth.logout
            logout(request)
        if reason == "idle":
            messages.info(request, _("You were signed out after %(minutes)d minutes without activity. "
                                     "Please sign in again.") % {"minutes": limits.idle_timeout_minutes})
        else:
            messages.info(request, _("Your session reached its maximum length of %(hours)d hours. "
                                     "Please sign in again.") % {"hours": limits.absolute_lifetime_hours})
        from django.urls import reverse

        login_url = reverse("account_login")
        if request.method in ("GET", "HEAD"):
            from django.utils.http import urlencode

            login_url += "?" + urlencode({"next": request.get_full_path()})
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        return redirect(login_url)


def _touch_user_session(request) -> None:
    """Refresh the session's row in the user-sessions list (address, browser, last seen)."""
    from allauth.usersessions.models import UserSession
    from django.utils import timezone

    from mamori.core.net import client_ip

    key = request.session.session_key
    if not key:
        return
    ua = request.META.get("HTTP_USER_AGENT", "")[:UserSession._meta.get_field("user_agent").max_length]
    with transaction.atomic():
        updated = UserSession.objects.filter(session_key=key, user_id=request.user.pk).update(
            last_seen_at=timezone.now(), ip=client_ip(request) or "0.0.0.0", user_agent=ua)  # noqa: S104
        if not updated:  # the session key changed (e.g. "sign out everywhere" kept this session)
            UserSession.objects.create_from_request(request)


def track_session(request) -> None:
    """Make sure the current session has its row in the user-sessions list."""
    from allauth.usersessions.models import UserSession

    key = request.session.session_key
    if key and not UserSession.objects.filter(session_key=key).exists():
        UserSession.objects.create_from_request(request)


def user_sessions(user, *, current_key: str | None = None) -> list:
    """The user's live sessions (rows of sessions that ended are removed on the way), the
    current one first, then by last use."""
    from allauth.usersessions.models import UserSession

    rows = UserSession.objects.purge_and_list(user)
    rows.sort(key=lambda row: (row.session_key != current_key, -row.last_seen_at.timestamp()))
    return rows
