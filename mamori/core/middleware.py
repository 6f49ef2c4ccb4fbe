"""Request id and security headers.

The request id is taken from ``X-Request-ID`` only when it is a short token of
safe characters (so a client cannot inject log lines), otherwise generated; it
is echoed in the response and stored with every audit event.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.http import http_date
from django.utils.translation import gettext as _

from mamori.core.context import (
    RequestContext,
    new_request_id,
    reset_request_context,
    set_request_context,
)
from mamori.core.net import client_ip

_NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_request_id()
        request.request_id = request_id
        ctx = RequestContext(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
        )
        token = set_request_context(ctx)
        try:
            response = self.get_response(request)
        finally:
            reset_request_context(token)
        response["X-Request-ID"] = request_id
        return response


# Machine-to-machine paths are not redirected to HTTPS (settings.SECURE_REDIRECT_EXEMPT): a
# client that sends a bearer token over plain HTTP must fail loudly, not be silently redirected
# (its token has crossed the network in clear already; ASVS 4.1.2).
_HTTPS_ONLY_PREFIXES = ("/api/", "/scim/")


def _https_required(request) -> HttpResponse:
    # Runs before LocaleMiddleware: the language comes from the request's Accept-Language.
    with translation.override(translation.get_language_from_request(request)):
        body = {"type": "about:blank", "title": str(_("HTTPS is required.")), "status": 403,
                "detail": str(_("This endpoint is served over HTTPS only. Call it with https://; a token "
                                "sent over plain HTTP should be treated as exposed and revoked."))}
    return HttpResponse(json.dumps(body), status=403, content_type="application/problem+json")


def _is_sign_out(request, response) -> bool:
    match = getattr(request, "resolver_match", None)
    if request.method != "POST" or match is None or response.status_code >= 400:
        return False
    return match.url_name == "account_logout" or (match.namespace == "provider" and match.url_name == "logout")


class SecurityHeadersMiddleware:
    """CSP and Permissions-Policy on every response (Django 5.2 has no built-in CSP); no caching
    of responses that set no caching policy of their own; plain-HTTP API calls refused."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (settings.SECURE_SSL_REDIRECT and not request.is_secure()
                and request.path_info.startswith(_HTTPS_ONLY_PREFIXES)):
            response = _https_required(request)
        else:
            response = self.get_response(request)
        # ASVS 14.2.2 / 14.3.2: console pages, API JSON and SCIM responses carry customer data;
        # neither the browser nor a shared cache may keep them. Static files, the public status
        # page and feeds set their own Cache-Control and are left alone.
        if "Cache-Control" not in response:
            # What django.utils.cache.add_never_cache_headers writes, without parsing the (absent)
            # Cache-Control header first: this runs on every response.
            if "Expires" not in response:
                response.headers["Expires"] = http_date()
            response.headers["Cache-Control"] = _NEVER_CACHE
        # ASVS 14.3.1: signing out also empties the browser's cache of this origin's pages (only
        # "cache": clearing cookies would end the sessions of other tenants on the same origin).
        if _is_sign_out(request, response):
            response["Clear-Site-Data"] = '"cache"'
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            policy = settings.CONTENT_SECURITY_POLICY
            # A page with an SSO sign-in form lets the IdP's origin in (mamori/sso/templatetags/sso.py):
            # browsers check form-action on the form's redirects too.
            extra = sorted(getattr(request, "csp_form_action", ()) or ())
            if extra and "form-action 'self'" in policy:
                policy = policy.replace("form-action 'self'", "form-action 'self' " + " ".join(extra), 1)
            response["Content-Security-Policy"] = policy
        if settings.PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
