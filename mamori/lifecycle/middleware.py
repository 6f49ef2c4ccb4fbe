"""The termination grace period: a terminating tenant is read-only, for its admins only (CLD.8.1.5).

While ``Tenant.status`` is ``terminating`` (``mamori.lifecycle.actions_termination``):

- console: only tenant admins stay signed in. A user of another role who signs in (with a
  password, a one-time link, SSO, …) or still has a session is signed out at once, with a
  message. Admins read everything; every write is refused with a clear page, except signing
  in and out, re-authentication, the language switch and the export of the tenant's data
  (URL names in ``GRACE_WRITE_VIEWS``; ``allow_during_grace`` adds more);
- API: tokens of non-admins are refused (403); admins' tokens read, and may only write to the
  paths in ``GRACE_API_WRITE_PREFIXES`` (the export);
- SCIM: reads only (the identity provider cannot add users to a tenant being deleted).

Anonymous requests (the sign-in pages themselves) pass: the check happens when a user
becomes authenticated.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from mamori.tenancy.models import Tenant

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Console views (``view_name`` as resolved) that may be POSTed to during the grace period.
GRACE_WRITE_VIEWS: set[str] = {
    "account_login", "account_logout", "account_reauthenticate", "mfa_authenticate", "mfa_reauthenticate",
    "set_language", "console:data_export", "console:data_export_create",
}
#: Console view-name prefixes allowed to write (the tenant export and its pages).
GRACE_WRITE_VIEW_PREFIXES: tuple[str, ...] = ("console:data_export", "console:export")
#: API path prefixes (below /api/v1) an admin's token may write to during the grace period.
GRACE_API_WRITE_PREFIXES: tuple[str, ...] = ("/api/v1/data/exports", "/api/v1/exports")


def allow_during_grace(*view_names: str) -> None:
    """Let more console views accept POSTs during the grace period (e.g. a provider app's export)."""
    GRACE_WRITE_VIEWS.update(view_names)


def in_grace(tenant) -> bool:
    return tenant is not None and tenant.status == Tenant.Status.TERMINATING


def _is_admin(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and getattr(user, "is_tenant_admin", False))


def grace_message() -> str:
    return _("This tenant's contract is being terminated. Until its data is deleted, only tenant admins "
             "may sign in, and only to read and export the data.")


def _view_name(request) -> str:
    try:
        return resolve(request.path_info, urlconf=getattr(request, "urlconf", None)).view_name
    except Resolver404:
        return ""


def console_write_allowed(request) -> bool:
    name = _view_name(request)
    return name in GRACE_WRITE_VIEWS or name.startswith(GRACE_WRITE_VIEW_PREFIXES)


def _problem(request, detail: str) -> JsonResponse:
    return JsonResponse({"type": "about:blank", "title": _("Forbidden"), "status": 403, "detail": detail,
                         "instance": request.path}, status=403, content_type="application/problem+json")


class TerminationGraceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if not in_grace(tenant):
            return self.get_response(request)
        path = request.path_info
        if getattr(request, "scim_token", None) is not None or path.startswith("/scim/"):
            if request.method not in SAFE_METHODS:
                return _problem(request, grace_message())
            return self.get_response(request)
        if getattr(request, "api_token", None) is not None or path.startswith("/api/"):
            return self._api(request)
        return self._console(request)

    def _api(self, request):
        user = getattr(request, "api_user", None)
        if user is not None and not _is_admin(user):
            return _problem(request, _("This tenant's contract is being terminated: only tenant admins' "
                                       "API tokens may be used until its data is deleted."))
        if request.method not in SAFE_METHODS and not request.path_info.startswith(GRACE_API_WRITE_PREFIXES):
            return _problem(request, _("This tenant's contract is being terminated: its data is read-only. "
                                       "Only the export of the data is possible."))
        return self.get_response(request)

    def _console(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not _is_admin(user):
            return self._sign_out(request)
        if (user is not None and user.is_authenticated and request.method not in SAFE_METHODS
                and not console_write_allowed(request)):
            return render(request, "console/data/termination_readonly.html",
                          {"message": grace_message()}, status=403)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not _is_admin(user):
            # Someone who is not an admin has just signed in (any method): not during the grace period.
            return self._sign_out(request)
        return response

    def _sign_out(self, request):
        logout(request)
        messages.error(request, grace_message())
        return redirect("account_login")
