"""The JSON API under ``/api/v1/`` (django-ninja, OpenAPI at ``/api/v1/openapi.json``).

The tenant comes only from the bearer token (``TenantMiddleware``), so no URL
carries a tenant. Handlers are thin: parse input, call a ``queries`` read or an
action, render. Every error is a problem-details document (``problems.py``).
There is no docs UI: it would load third-party assets the CSP forbids; the
spec is served as JSON for tools (code generators, schemathesis).
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

from mamori.api import (
    allowlist,
    attachments,
    audit,
    data_export,
    evidence,
    labels,
    me,
    mfa,
    problems,
    records,
    scim_tokens,
    security,
    sessions,
    siem,
    signins,
    sso,
    termination,
    tokens,
    units,
    user_import,
    users,
    workspaces,
)
from mamori.api.auth import ApiTokenAuth


class MamoriAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        return operation.view_func.__name__

    def get_openapi_schema(self, *args: Any, **kwargs: Any):
        """Document error responses with the media type they are sent with."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if int(status) >= 400 and content and "application/json" in content:
                        content[problems.PROBLEM_CONTENT_TYPE] = content.pop("application/json")
        return schema


api = MamoriAPI(
    title="Mamori API",
    version="1",
    description=(
        "Tenant-isolated JSON API. Authenticate with a personal API token "
        "(`Authorization: Bearer mmr_…`); the token decides the tenant. "
        "Errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    urls_namespace="api",
    docs_url=None,
    auth=ApiTokenAuth(),
    parser=problems.StrictJSONParser(),
)
problems.install(api)

api.add_router("", me.router)
api.add_router("/workspaces", workspaces.router)
api.add_router("/labels", labels.router)
api.add_router("/records", records.router)
api.add_router("/records", attachments.router)
api.add_router("/users", users.router)
api.add_router("/users", user_import.router)
api.add_router("/audit", audit.router)
api.add_router("/tokens", tokens.router)
api.add_router("/evidence", evidence.router)
api.add_router("/data", data_export.router)
api.add_router("/data", termination.router)
api.add_router("/siem", siem.router)
api.add_router("", signins.router)
api.add_router("/security", security.router)
api.add_router("/security", sessions.router)
api.add_router("/security", allowlist.router)
api.add_router("/security", sso.router)
api.add_router("/security", mfa.router)
api.add_router("/security", scim_tokens.router)
api.add_router("/security", attachments.limits_router)
api.add_router("/users", mfa.users_router)
api.add_router("/units", units.router)
