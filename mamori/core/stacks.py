"""Two middleware stacks in one: the console's, and the shorter one of the API and SCIM.

A token-authenticated API or SCIM request has no use for the console's session,
CSRF cookie, sign-in, messages, language cookie, MFA enrolment, support-session
or password-expiry middleware: none of them applies to a bearer token, and each
costs time on every request (about 8 % of an API read, measured by
``bench/api_bench.py``). ``ApiStackMiddleware`` therefore sends the requests that
``TenantMiddleware`` routed as API or SCIM requests (``request.api_stack``: paths
``/api/`` and ``/scim/``, never a console page) straight to the view, past the middleware listed after
it in ``MIDDLEWARE``, except the few in ``MAMORI_API_STACK`` that apply to the
API too (the termination grace period's read-only rule). Everything before it —
request id, metrics, HTTPS and security headers, tenant resolution from the
token and the request transaction, IP allowlist — runs for every request.

``MIDDLEWARE`` itself stays the one list Django and other libraries expect, so
checks that look for a middleware in it keep working. How the branch finds the
view handler: ``ApiStackEnd``, the last entry, is built first when Django loads
the middleware; it hands the view handler to ``ApiStackMiddleware`` (built later,
in the same thread) and removes itself (``MiddlewareNotUsed``), so it costs
nothing. Under an async handler the branch is off and every request takes the
full stack.

The view middleware hooks (``process_view``) of the skipped middleware still run
for API requests, inside Django's handler; each of them returns early without a
signed-in console user or a support session, which API requests never have.
"""

from __future__ import annotations

import threading

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string

_pending = threading.local()


def _request_language(request) -> str:
    """The language an API/SCIM request starts with (the token's user may refine it later):
    an explicit supported ``Accept-Language``, else the tenant's, else the installation's."""
    from mamori.api.auth import _accepted_language

    tenant = getattr(request, "tenant", None)
    return _accepted_language(request) or getattr(tenant, "language", "") or settings.LANGUAGE_CODE


class ApiStackEnd:
    """Marks the end of ``MIDDLEWARE``: passes the view handler to ``ApiStackMiddleware``."""

    def __init__(self, get_response):
        _pending.view_handler = None if iscoroutinefunction(get_response) else get_response
        raise MiddlewareNotUsed


class ApiStackMiddleware:
    """Route API and SCIM requests past the console-only middleware (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        view_handler = getattr(_pending, "view_handler", False)
        _pending.view_handler = False
        if view_handler is False:
            raise ImproperlyConfigured(
                "mamori.core.stacks.ApiStackMiddleware needs mamori.core.stacks.ApiStackEnd "
                "as the last entry of MIDDLEWARE.")
        self.api_response = None if view_handler is None else self._api_chain(view_handler)

    @staticmethod
    def _api_chain(view_handler):
        handler = view_handler
        for path in reversed(getattr(settings, "MAMORI_API_STACK", ())):
            middleware = import_string(path)
            instance = middleware(handler)
            for hook in ("process_view", "process_template_response", "process_exception"):
                if hasattr(instance, hook):
                    raise ImproperlyConfigured(f"{path} has {hook}(), which MAMORI_API_STACK cannot run.")
            handler = convert_exception_to_response(instance)
        return handler

    def __call__(self, request):
        if self.api_response is None or not getattr(request, "api_stack", False):
            return self.get_response(request)
        language = _request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.api_response(request)
        # As LocaleMiddleware does for the console: the language the response was written in.
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
