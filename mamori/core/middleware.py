"""Request id and security headers.

The request id is taken from ``X-Request-ID`` only when it is a short token of
safe characters (so a client cannot inject log lines), otherwise generated; it
is echoed in the response and stored with every audit event.
"""

from __future__ import annotations

import re

from django.conf import settings

from mamori.core.context import (
    RequestContext,
    new_request_id,
    reset_request_context,
    set_request_context,
)
from mamori.core.net import client_ip

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


class SecurityHeadersMiddleware:
    """CSP and Permissions-Policy on every response (Django 5.2 has no built-in CSP)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
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
