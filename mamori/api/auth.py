"""API authentication: the personal token already verified by TenantMiddleware.

``TenantMiddleware`` parses ``Authorization: Bearer mmr_…``, opens the token's
tenant, verifies the token there (hash, expiry, revocation, active user) and
sets ``request.api_token`` / ``request.api_user``. This class only accepts the
request when that happened; anything else is a 401 problem with a
``WWW-Authenticate: Bearer`` challenge (see ``mamori.api.problems``).

It also picks the response language: an explicit ``Accept-Language`` the
server supports, else the user's own language, else the tenant's.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import translation
from django.utils.translation.trans_real import (
    get_supported_language_variant,
    parse_accept_lang_header,
)
from ninja.security import HttpBearer

from mamori.audit.events import Actor


def _accepted_language(request: HttpRequest) -> str | None:
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            continue
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def activate_request_language(request: HttpRequest, user: Any) -> str:
    tenant = getattr(request, "tenant", None)
    language = (
        _accepted_language(request)
        or getattr(user, "language", "")
        or getattr(tenant, "language", "")
        or translation.get_language()
    )
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


class ApiTokenAuth(HttpBearer):
    """Bearer token auth (documented as ``http``/``bearer`` in the OpenAPI spec)."""

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "api_user", None)
        if user is None or getattr(request, "api_token", None) is None:
            return None
        activate_request_language(request, user)
        return user

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover
        return None  # never called: __call__ relies on the middleware's verification


def actor(request: HttpRequest) -> Actor:
    """The actor for actions run by this request: the token (and through it, its user)."""
    return Actor.for_api_token(request.api_token)  # type: ignore[attr-defined]


def api_user(request: HttpRequest) -> Any:
    return request.api_user  # type: ignore[attr-defined]


def require_permission(request: HttpRequest, perm: str, *, view: str) -> None:
    """Refuse a read the caller's role does not allow, with an ``access.denied`` audit event.

    Writes are refused by their actions (which record the same event); reads have no
    action, so the endpoint calls this first.
    """
    from django.db import transaction

    from mamori.access.errors import PermissionDenied
    from mamori.access.roles import can
    from mamori.audit.events import record_event

    if can(api_user(request), perm):
        return
    with transaction.atomic():
        record_event("access.denied", actor=actor(request), after={"permission": str(perm), "view": view})
    raise PermissionDenied(perm)
