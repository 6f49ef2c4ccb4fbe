"""Attach the signed-in provider staff member (if any) to provider requests.

A staff session is signed in only after every required step: the password and, when
``MAMORI_PROVIDER_MFA`` is on (the default), a TOTP code (``mamori.operations.mfa``).
Between the two steps the session holds only a short-lived "pending" entry, which no
provider page accepts. A session signed in without the second factor (MFA was off then)
is not accepted once MFA is on.

A staff session unused for ``MAMORI_PROVIDER_IDLE_MINUTES`` (default 30, NIST SP 800-63B AAL2)
ends at its next request (``provider.session_expired`` in the provider log; ASVS 7.3.1); the
last use is written at most once a minute. The absolute limit is ``SESSION_COOKIE_AGE``.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.utils.translation import gettext as _

PROVIDER_SESSION_KEY = "_mamori_provider_staff_id"
PROVIDER_MFA_KEY = "_mamori_provider_mfa"
PENDING_KEY = "_mamori_provider_pending"
TOTP_SETUP_KEY = "_mamori_provider_totp_setup"  # noqa: S105 (a session key name)
PROVIDER_SEEN_KEY = "_mamori_provider_seen"
PENDING_SECONDS = 300  # the second step must follow the password within five minutes
SEEN_WRITE_SECONDS = 60  # the last use is written at most once a minute


def idle_seconds() -> int:
    return 60 * int(getattr(settings, "MAMORI_PROVIDER_IDLE_MINUTES", 30))


def start_second_step(request, staff, next_url: str) -> None:
    request.session.cycle_key()
    request.session.pop(PROVIDER_SESSION_KEY, None)
    request.session[PENDING_KEY] = {"id": staff.pk, "at": int(time.time()), "next": next_url}


def pending_staff(request):
    """The staff member who passed the password step in this session (still active and within
    ``PENDING_SECONDS``), or None."""
    from mamori.operations.models import ProviderStaff

    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return ProviderStaff.objects.filter(pk=pending.get("id"), is_active=True).first()


def pending_next(request) -> str:
    pending = request.session.get(PENDING_KEY)
    return pending.get("next", "") if isinstance(pending, dict) else ""


def complete_sign_in(request, staff, *, mfa: bool) -> None:
    request.session.cycle_key()  # a new session id at every sign-in (and after the second step)
    request.session.pop(PENDING_KEY, None)
    request.session.pop(TOTP_SETUP_KEY, None)
    request.session[PROVIDER_SESSION_KEY] = staff.pk
    request.session[PROVIDER_MFA_KEY] = mfa
    request.session[PROVIDER_SEEN_KEY] = int(time.time())


class ProviderStaffMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.provider_staff = None
        if request.path_info.startswith("/provider/") and getattr(request, "tenant", None) is None:
            staff_id = request.session.get(PROVIDER_SESSION_KEY)
            if staff_id is not None:
                from mamori.operations import mfa
                from mamori.operations.models import ProviderStaff

                if not mfa.required() or request.session.get(PROVIDER_MFA_KEY):
                    request.provider_staff = ProviderStaff.objects.filter(pk=staff_id, is_active=True).first()
                if request.provider_staff is not None:
                    _check_idle(request)
        return self.get_response(request)


def _check_idle(request) -> None:
    """End a staff session unused for longer than the idle timeout; note the use otherwise."""
    now = int(time.time())
    seen = request.session.get(PROVIDER_SEEN_KEY)
    if not isinstance(seen, int):
        seen = now  # a session from before the timeout existed: its clock starts now
    if now - seen > idle_seconds():
        from mamori.operations.actions import staff_session_expired

        staff_session_expired(staff=request.provider_staff, idle_minutes=(now - seen) // 60)
        request.session.flush()
        request.provider_staff = None
        messages.info(request, _("You were signed out after a period without activity. Sign in again."))
    elif now - seen >= SEEN_WRITE_SECONDS or PROVIDER_SEEN_KEY not in request.session:
        request.session[PROVIDER_SEEN_KEY] = now
