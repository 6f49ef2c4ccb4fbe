"""What every console view shares: sign-in, allowed methods, permission, error mapping.

``console_view`` wraps a view so that anonymous users are sent to the tenant's
sign-in page, unexpected methods get 405, a missing permission becomes a 403
page (and an ``access.denied`` audit event), and ``NotFound`` from the access
helpers becomes the 404 page — so views stay a few lines of "parse, call, render".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.http import Http404
from django.views.decorators.http import require_http_methods

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import can
from mamori.audit.events import Actor, record_event

READ = ("GET", "HEAD")
FORM = ("GET", "HEAD", "POST")
WRITE = ("POST",)


def actor(request) -> Actor:
    return Actor.for_user(request.user)


def require_perm(request, perm: str) -> None:
    """403 unless the signed-in user has ``perm``; the refusal is an ``access.denied`` event
    (as when an action refuses), so opening a form one may not use leaves a trace too."""
    if can(request.user, perm):
        return
    match = request.resolver_match
    with transaction.atomic():
        record_event("access.denied", actor=actor(request),
                     after={"permission": str(perm), "view": match.view_name if match else request.path})
    raise DjangoPermissionDenied


def require_recent_reauthentication(request) -> None:
    """Destructive and privilege-raising changes need the password entered again within
    the last ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds (conventions §5).

    Otherwise the submitted form is kept in the session and the user goes to allauth's
    re-authentication page; once the password is confirmed, ``resume_after_reauthentication``
    carries the form out. (allauth's own replay resolves the full path, which under the
    ``/t/<slug>/`` script prefix is not in the tenant's URLconf, so Mamori keeps ``path_info``.)
    """
    from allauth.account.internal.flows.reauthentication import (
        get_reauthentication_flows,
        is_reauthentication_required,
        stash_and_reauthenticate,
    )
    from allauth.core.exceptions import ImmediateHttpResponse

    if not get_reauthentication_flows(request.user):
        # allauth waves through users who have no way to re-authenticate (SSO-only, no
        # second factor); Mamori does not: they set up a second factor first.
        from django.contrib import messages
        from django.shortcuts import redirect
        from django.utils.translation import gettext as _

        messages.error(request, _(
            "To confirm this change you need a second factor: you sign in through your organisation's "
            "identity provider and have no password here. Set up an authenticator app or a security key."))
        raise ImmediateHttpResponse(redirect("mfa_index"))
    if not is_reauthentication_required(request, app=""):
        return
    state = {"path_info": request.path_info, "post": request.POST.urlencode()}
    raise ImmediateHttpResponse(stash_and_reauthenticate(
        request, state, callback="mamori.console.views.common.resume_after_reauthentication"))


def resume_after_reauthentication(request, state: dict):
    """Called by allauth after a successful re-authentication: replay the kept POST on
    its view (the tenant's URLconf is active; the view checks everything again)."""
    from django.http import QueryDict
    from django.urls import get_script_prefix, resolve

    match = resolve(state["path_info"])
    request.method = "POST"
    request.POST = QueryDict(state["post"])
    request.path_info = state["path_info"]
    request.path = get_script_prefix().rstrip("/") + state["path_info"]
    return match.func(request, *match.args, **match.kwargs)


def console_view(methods: Iterable[str] = READ, perm: str | None = None, *, reauth: bool = False) -> Callable:
    """``reauth=True``: a POST needs a recent re-authentication (GET never does)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if perm is not None:
                require_perm(request, perm)
            if reauth and request.method == "POST":
                require_recent_reauthentication(request)
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                raise Http404 from None
            except PermissionDenied:
                raise DjangoPermissionDenied from None

        return login_required(require_http_methods(list(methods))(wrapper))

    return decorate
