"""Support sessions: how a staff member enters a tenant console, and what keeps them in check.

Entering (docs/decisions/0010-support-access-sessions.md): from the provider console the
staff member posts "Open tenant console" for an active grant. The provider view signs a
hand-off (tenant, grant, staff, nonce; ``django.core.signing``, valid 60 seconds) and keeps
it in the session only — it never appears in a URL — then redirects to
``/t/<slug>/support/enter/``. That view takes the hand-off out of the session (one use),
checks it against the signed-in staff member and the grant, records
``support.session_started`` and signs the grant's support user in.

``SupportSessionMiddleware`` then checks, on every request of such a session, that the
grant is still approved and before its end, that the same staff member is still signed in
to the provider console and active, and that the support user still has the grant's role;
otherwise the session ends at once (an expired grant is closed on the spot). It refuses
every unsafe method in a read-only session (second layer behind the viewer role), keeps
support sessions away from personal API tokens, MFA, password and session pages, and
records every GET as ``support.page_viewed`` (path only, never the query string). A
session of a support user without a valid support marker (a login link, a guessed
password) is ended too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound
from mamori.operations.middleware import PROVIDER_MFA_KEY, PROVIDER_SESSION_KEY
from mamori.support.models import SupportAccessRequest

SUPPORT_SESSION_KEY = "_mamori_support_grant"  # [tenant id, grant id]
HANDOFF_SESSION_KEY = "_mamori_support_handoff"
HANDOFF_SALT = "mamori.support.handoff"
HANDOFF_MAX_AGE = 60  # seconds between "Open tenant console" and the tenant's entry page
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Pages a support session never reaches (any method): its own credentials and sessions.
BLOCKED_URL_PREFIXES = ("token", "mfa_", "my_sessions", "set_password", "change_password",
                        "account_change_password", "account_set_password", "account_reauthenticate",
                        "account_email", "usersessions")


@dataclass(frozen=True)
class SupportSession:
    grant: SupportAccessRequest

    @property
    def staff_email(self) -> str:
        return self.grant.staff_email

    @property
    def until(self):
        return self.grant.approved_until

    @property
    def read_only(self) -> bool:
        return self.grant.scope == SupportAccessRequest.Scope.READ_ONLY


def provider_support_url() -> str:
    return f"{settings.FORCE_SCRIPT_NAME or ''}/provider/support/".replace("//", "/")


# --- hand-off ----------------------------------------------------------------------------------

def issue_handoff(request, *, staff, tenant, grant) -> str:
    """Keep a signed one-time hand-off in the session; returns the tenant entry URL."""
    request.session[HANDOFF_SESSION_KEY] = signing.dumps(
        {"t": tenant.pk, "g": grant.pk, "s": staff.pk, "n": secrets.token_urlsafe(16)}, salt=HANDOFF_SALT)
    return f"{settings.FORCE_SCRIPT_NAME or ''}/t/{tenant.slug}/support/enter/"


def enter(request):
    """``/t/<slug>/support/enter/``: consume the hand-off and sign the support user in (else 404)."""
    from mamori.accounts.signals import set_login_method
    from mamori.operations.models import ProviderStaff
    from mamori.support import actions

    staff_state = _staff_state(request)
    staff_id = _signed_in_staff_id(staff_state)
    if staff_id is None:
        if not request.user.is_authenticated:  # like any console page: the tenant's sign-in
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        # A user of the tenant: nothing to enter; say where support sessions come from.
        return render(request, "support/console/enter_info.html")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    token = request.session.pop(HANDOFF_SESSION_KEY, None)
    if not token:
        raise Http404
    try:
        data = signing.loads(token, salt=HANDOFF_SALT, max_age=HANDOFF_MAX_AGE)
    except signing.BadSignature:
        raise Http404 from None
    if data.get("t") != request.tenant.pk or data.get("s") != staff_id:
        raise Http404
    staff = ProviderStaff.objects.filter(pk=staff_id, is_active=True).first()
    if staff is None:
        raise Http404
    with transaction.atomic():
        try:
            grant = actions.start_session(staff=staff, tenant=request.tenant, grant_id=data.get("g"))
        except NotFound:
            raise Http404 from None
        if request.user.is_authenticated:  # someone of the tenant was signed in in this browser
            logout(request)
            _restore_staff(request, staff_state)
        set_login_method(request, "support_access")
        login(request, grant.support_user, backend=settings.AUTHENTICATION_BACKENDS[0])
        _restore_staff(request, staff_state)
        request.session[SUPPORT_SESSION_KEY] = [request.tenant.pk, grant.pk]
    return redirect("console:dashboard")


def _staff_state(request) -> tuple:
    """The provider console's sign-in keys of this session (kept across the tenant sign-in)."""
    return request.session.get(PROVIDER_SESSION_KEY), request.session.get(PROVIDER_MFA_KEY)


def _signed_in_staff_id(state: tuple):
    """The staff id when the provider sign-in is complete (with the second factor when required)."""
    from mamori.operations import mfa

    staff_id, with_mfa = state
    if staff_id is None or (mfa.required() and not with_mfa):
        return None
    return staff_id


def _restore_staff(request, state: tuple) -> None:
    staff_id, with_mfa = state
    if staff_id is not None:
        request.session[PROVIDER_SESSION_KEY] = staff_id
        if with_mfa is not None:
            request.session[PROVIDER_MFA_KEY] = with_mfa


# --- middleware --------------------------------------------------------------------------------

def _check(request, grant_id, staff_id) -> tuple[SupportAccessRequest | None, str]:
    """(grant, "") when the support session may go on, else (grant or None, reason)."""
    from mamori.operations.models import ProviderStaff

    grant = SupportAccessRequest.objects.filter(pk=grant_id).select_related("support_user").first()
    if grant is None:
        return None, "unknown_grant"
    user = request.user
    if not user.is_authenticated or user.pk != grant.support_user_id:
        return grant, "signed_out"
    if grant.state != SupportAccessRequest.State.APPROVED:
        return grant, grant.state
    if not grant.is_active():
        return grant, "expired"
    if staff_id != grant.staff_id or not ProviderStaff.objects.filter(pk=staff_id, is_active=True).exists():
        return grant, "staff_signed_out"
    if not user.is_active or user.role != grant.support_role:
        return grant, "role_changed"
    return grant, ""


def _end(request, grant: SupportAccessRequest | None, reason: str, staff_state: tuple):
    """End the support session; the staff member's provider session stays."""
    from mamori.support import actions

    with transaction.atomic():
        if grant is not None:
            if reason == "expired":
                actions.expire_access(tenant=request.tenant, grant_id=grant.pk)
            actions.end_session(tenant=request.tenant, grant=grant, reason=reason)
        if request.user.is_authenticated:
            logout(request)
        else:
            request.session.flush()
    _restore_staff(request, staff_state)
    if reason == "expired":
        messages.info(request, _("The support access ended at its approved end time."))
    elif reason != "signed_out_by_staff":
        messages.info(request, _("The support session has ended."))
    url = provider_support_url()
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class SupportSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.support_session = None
        if getattr(request, "tenant", None) is None or getattr(request, "urlconf", None) != "mamori.urls_tenant":
            return self.get_response(request)
        # Read both keys before ``request.user``: a failed session hash flushes the session.
        marker = request.session.get(SUPPORT_SESSION_KEY)
        staff_state = _staff_state(request)
        if marker is None:
            from mamori.support.accounts import is_support_user

            if request.user.is_authenticated and is_support_user(request.user):
                return _end(request, None, "no_handoff", staff_state)
            return self.get_response(request)
        tenant_id, grant_id = marker
        if tenant_id != request.tenant.pk:
            # A support session of another tenant: its user is not known here (anonymous).
            return self.get_response(request)
        grant, reason = _check(request, grant_id, _signed_in_staff_id(staff_state))
        if reason:
            return _end(request, grant, reason, staff_state)
        request.support_session = SupportSession(grant)
        response = self.get_response(request)
        if request.method in ("GET", "HEAD") and request.session.get(SUPPORT_SESSION_KEY):
            from mamori.support.actions import record_page_view

            record_page_view(grant=grant, method=request.method, path=request.path, status=response.status_code)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        session = getattr(request, "support_session", None)
        if session is None:
            return None
        match = request.resolver_match
        name = match.url_name if match is not None else ""
        if name == "account_logout" and request.method == "POST":
            return _end(request, session.grant, "signed_out_by_staff", _staff_state(request))
        if name and name.startswith(BLOCKED_URL_PREFIXES):
            return self._refuse(request, session, "support_session_page")
        if session.read_only and request.method not in SAFE_METHODS and name != "set_language":
            return self._refuse(request, session, "support_read_only")
        return None

    @staticmethod
    def _refuse(request, session: SupportSession, why: str):
        from mamori.audit.events import record_event
        from mamori.support.actions import session_actor

        with transaction.atomic():
            record_event("access.denied", actor=session_actor(session.grant),
                         after={"permission": why, "method": request.method, "path": request.path})
        return render(request, "403.html", status=403)

