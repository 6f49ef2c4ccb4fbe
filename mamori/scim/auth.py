"""Authentication of SCIM requests (called by ``TenantMiddleware`` for ``/scim/``).

Only ``Authorization: Bearer mmrscim_…`` opens a tenant here: no session, no API
token, no tenant in the URL. A refused token is an audit event in the tenant it
claims (when that tenant exists), a 401 SCIM error in every case; a request from
an address outside the tenant's IP allowlist gets a 403 SCIM error (audited by
``mamori.access.allowlist``).
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from mamori.scim.responses import scim_error
from mamori.scim.tokens import parse_scim_token, verify_scim_token
from mamori.tenancy.context import apply_db_tenant, bind_tenant

logger = logging.getLogger("mamori.security")


def _bearer(request) -> str:
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else ""


def authenticate(request):
    """``(token, None)`` for a usable token of an open tenant that the allowlist admits,
    else ``(None, response or None)``; the caller answers ``unauthorized`` for None."""
    from mamori.tenancy.models import Tenant

    raw = _bearer(request)
    parsed = parse_scim_token(raw)
    if parsed is None:
        if raw:
            logger.warning("SCIM request with a malformed bearer token from %s", request.META.get("REMOTE_ADDR"))
        return None, None
    apply_db_tenant(parsed.tenant_id)
    token, reason = verify_scim_token(parsed)
    tenant = Tenant.objects.filter(pk=parsed.tenant_id).first()
    if reason is None and token.tenant.status in Tenant.OPEN_STATUSES:
        from mamori.access.allowlist import enforce_allowlist

        with bind_tenant(token.tenant):
            blocked = enforce_allowlist(request, token.tenant)
        if blocked is not None:
            return None, _as_scim_error(request, blocked, token.tenant)
        return token, None
    if tenant is not None and tenant.status in Tenant.OPEN_STATUSES:
        _record_failure(tenant, parsed.prefix, reason or "tenant_closed")
    return None, None


def _record_failure(tenant, prefix: str, reason: str) -> None:
    from mamori.scim.actions import record_auth_failure

    with bind_tenant(tenant), transaction.atomic():
        record_auth_failure(prefix=prefix, reason=reason)


def _as_scim_error(request, blocked, tenant):
    """The allowlist's 403 problem, re-worded as a SCIM error (RFC 7644 §3.12)."""
    try:
        detail = json.loads(blocked.content.decode("utf-8")).get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    with translation.override(tenant.language):
        response = scim_error(403, detail or _("Requests from your IP address are not allowed for this tenant."))
    response["Cache-Control"] = "no-store"
    return response


def unauthorized(request):
    from django.conf import settings

    from mamori.api.auth import _accepted_language

    # No tenant is known: the client's Accept-Language, else the installation's language.
    with translation.override(_accepted_language(request) or settings.LANGUAGE_CODE):
        response = scim_error(401, _("Send a valid SCIM token: Authorization: Bearer mmrscim_…"))
    response["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    return response
