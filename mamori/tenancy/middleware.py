"""Routing layer of tenant isolation.

The tenant comes only from the URL prefix ``/t/<slug>/`` (console) or from the
API token (``/api/``); nothing else can set it. For console requests the prefix
becomes the script prefix, so every ``reverse()`` (ours and allauth's) yields
tenant URLs without passing the slug around, and the rest of the path is
resolved against the tenant URLconf.

Each request runs inside one transaction opened here (``tenant_context``), so
on PostgreSQL ``SET LOCAL`` pins the tenant and the application role for every
query of the request, session and authentication included. A 5xx response rolls
the transaction back. (On SQLite, which has no RLS, GET/HEAD/OPTIONS requests run
without the request transaction: see ``_unlocked_read``.)
"""

from __future__ import annotations

import re
import zoneinfo
from contextlib import nullcontext

from django.db import connection, transaction
from django.shortcuts import render
from django.urls import get_script_prefix, set_script_prefix, set_urlconf
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mamori.tenancy.context import apply_db_tenant, bind_tenant, request_scope, tenant_context
from mamori.tenancy.models import Tenant

_TENANT_PATH = re.compile(r"^/t/(?P<slug>[a-z0-9-]{1,40})(?P<rest>/.*)?$")
# /readyz runs outside the request transaction so an unreachable database gives 503 JSON.
_NO_TRANSACTION_PREFIXES = ("/static/", "/healthz", "/readyz", "/favicon.ico")


def _not_found(request):
    response = render(request, "404.html", status=404)
    return response


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_scope():
            return self._route(request)

    def _route(self, request):
        path = request.path_info
        request.tenant = None
        if path.startswith(_NO_TRANSACTION_PREFIXES):
            return self.get_response(request)
        match = _TENANT_PATH.match(path)
        if match:
            return self._tenant_request(request, match)
        if path.startswith("/api/"):
            return self._api_request(request)
        if path.startswith("/scim/"):
            return self._scim_request(request)
        with _scope(request, None):
            response = self.get_response(request)
            _rollback_on_error(response)
            return response

    def _tenant_request(self, request, match):
        slug = match.group("slug")
        tenant = Tenant.objects.filter(slug=slug).exclude(status=Tenant.Status.PURGED).first()
        if tenant is None:
            return _not_found(request)
        rest = match.group("rest")
        if rest is None:  # /t/acme → /t/acme/
            from django.http import HttpResponsePermanentRedirect

            return HttpResponsePermanentRedirect(request.path + "/")
        request.tenant = tenant
        request.urlconf = "mamori.urls_tenant"
        previous_prefix = get_script_prefix()
        prefix = f"{request.META.get('SCRIPT_NAME', '').rstrip('/')}/t/{slug}/"
        request.path_info = rest
        set_script_prefix(prefix)
        set_urlconf(request.urlconf)  # so middleware below can reverse() tenant URLs
        try:
            with _scope(request, tenant), timezone.override(zoneinfo.ZoneInfo(tenant.time_zone)):
                response = self.get_response(request)
                _rollback_on_error(response)
                return response
        finally:
            set_script_prefix(previous_prefix)
            set_urlconf(None)

    def _api_request(self, request):
        """API: the tenant is the one the bearer token was issued in, nothing else.

        The token's claimed tenant is applied to the database first, so the one
        query that finds the token (with its user and tenant) already runs under
        that tenant's RLS; a token of tenant A can only ever be found in A.
        """
        from mamori.accounts.tokens import parse_api_token, verify_api_token

        request.api_token = None
        request.api_user = None
        request.api_stack = True  # the short middleware stack of mamori.core.stacks
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        parsed = parse_api_token(raw.strip()) if scheme.lower() == "bearer" else None
        unlocked = _unlocked_read(request)
        with nullcontext() if unlocked else transaction.atomic():
            tenant = None
            if parsed is not None:
                # Applies the claimed tenant to the database in the same round trip as the lookup.
                token = verify_api_token(parsed, apply_tenant=True)
                if token is not None and token.support_user:
                    token = None  # support access is console-only: no API with a support user's token
                if token is not None and token.tenant.status in Tenant.OPEN_STATUSES:
                    tenant = token.tenant
                    request.tenant = tenant
                    request.api_token = token
                    request.api_user = token.user
                    refused = _over_rate_limit(request, token)
                    if refused is not None:
                        return refused
                else:
                    apply_db_tenant(None)
            else:
                apply_db_tenant(None)
            with bind_tenant(tenant), _siem_known(None if unlocked else request.api_token):
                response = self.get_response(request)
                _rollback_on_error(response)
                return response

    def _scim_request(self, request):
        """SCIM: the tenant is the one the SCIM bearer token (``mmrscim_…``) was issued in.

        As for the API, the claimed tenant is applied to the database before the one
        query that finds the token. Without a usable token the answer is a 401 SCIM
        error (``mamori.scim.auth``); the tenant's IP allowlist applies as on the API.
        """
        from mamori.scim.auth import authenticate, unauthorized

        request.scim_token = None
        request.api_stack = True  # the short middleware stack of mamori.core.stacks
        with nullcontext() if _unlocked_read(request) else transaction.atomic():
            token, refusal = authenticate(request)
            if token is None:  # answered here: no view, no further query in this transaction
                return refusal or unauthorized(request)
            request.tenant = token.tenant
            request.scim_token = token
            refused = _over_scim_rate_limit(request, token)
            if refused is not None:
                return refused
            with bind_tenant(token.tenant):
                response = self.get_response(request)
                _rollback_on_error(response)
                return response


def _over_rate_limit(request, token):
    """The 429 problem if the token is over ``MAMORI_API_RATE_LIMIT`` (``mamori.access.ratelimit``)."""
    from mamori.access.ratelimit import check_token
    from mamori.audit.events import Actor

    wait = check_token("api", token, actor=lambda: Actor.for_api_token(token))
    if not wait:
        return None
    from mamori.api.auth import activate_request_language
    from mamori.api.problems import problem

    activate_request_language(request, token.user)
    return problem(request, 429, _("This token sent too many requests. Wait %(seconds)d seconds and try "
                                   "again.") % {"seconds": int(wait)},
                   headers={"Retry-After": str(int(wait))})


def _over_scim_rate_limit(request, token):
    from mamori.access.ratelimit import check_token
    from mamori.scim.actions import scim_actor

    wait = check_token("scim", token, actor=lambda: scim_actor(token))
    if not wait:
        return None
    from mamori.api.auth import _accepted_language
    from mamori.scim.responses import scim_error

    with translation.override(_accepted_language(request) or token.tenant.language):
        response = scim_error(429, _("This token sent too many requests. Wait %(seconds)d seconds and try "
                                     "again.") % {"seconds": int(wait)})
    response["Retry-After"] = str(int(wait))
    return response


def _siem_known(token):
    """Writes of an API request need not ask whether the tenant has a SIEM subscription:
    the token lookup answered it, in the request transaction (``mamori.siem.signals``)."""
    if token is None:
        return nullcontext()
    from mamori.siem.signals import subscription_known

    return subscription_known(token.tenant_id, token.siem_subscribed)


def _unlocked_read(request) -> bool:
    """On SQLite every transaction takes the write lock up front (BEGIN IMMEDIATE, so
    writers never deadlock); reads run without the request transaction so they do
    not queue behind each other. SQLite has no RLS: the ORM binding is its isolation.
    The OpenID Connect callback is a GET that signs the user in (session, audit events): it
    runs in the request transaction like a write."""
    return (connection.vendor == "sqlite" and request.method in ("GET", "HEAD", "OPTIONS")
            and not request.path_info.endswith("/login/callback/"))


def _scope(request, tenant):
    return bind_tenant(tenant) if _unlocked_read(request) else tenant_context(tenant)


def _rollback_on_error(response) -> None:
    if response.status_code >= 500 and transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)


class TenantUserLanguageMiddleware:
    """Language: the user's choice (cookie or profile), else the tenant's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        from django.conf import settings

        if tenant is not None and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            user = getattr(request, "user", None)
            lang = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
            lang = lang or tenant.language
            translation.activate(lang)
            request.LANGUAGE_CODE = lang
        return self.get_response(request)
