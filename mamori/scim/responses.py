"""SCIM responses: ``application/scim+json`` bodies and RFC 7644 §3.12 errors."""

from __future__ import annotations

import json

from django.http import HttpResponse

CONTENT_TYPE = "application/scim+json; charset=utf-8"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_response(data, status: int = 200, *, location: str | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(data, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    if location:
        response["Location"] = location
    response["Cache-Control"] = "no-store"
    return response


def scim_error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": str(detail)}
    if scim_type:
        body["scimType"] = scim_type
    return scim_response(body, status)
