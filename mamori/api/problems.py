"""One error shape for the whole API: problem details (RFC 9457).

Every error the API returns — validation, malformed JSON, authentication,
permission, not found, oversized body, wrong method, unexpected failure — is an
``application/problem+json`` document::

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "…", "instance": "/api/v1/records/7", "errors": [{"field": …, "message": …}]}

Titles and messages go through gettext, so they follow the language chosen for
the request (``mamori.api.auth``). A 500 never carries internals; the request id
in the ``X-Request-ID`` header ties it to the server log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from mamori.access.errors import NotFound, PermissionDenied

logger = logging.getLogger("mamori.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
NON_FIELD = "__all__"


class FieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    """RFC 9457 problem details; ``errors`` lists field-level messages (422)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def _titles() -> dict[int, str]:
    return {
        400: _("Bad Request"),
        401: _("Unauthorized"),
        403: _("Forbidden"),
        404: _("Not Found"),
        405: _("Method Not Allowed"),
        409: _("Conflict"),
        413: _("Content Too Large"),
        422: _("Unprocessable Content"),
        429: _("Too Many Requests"),
        500: _("Internal Server Error"),
        503: _("Service Unavailable"),
    }


def problem(request: HttpRequest | None, status: int, detail: str, *,
            errors: Iterable[tuple[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> HttpResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _titles().get(status, _("Error")),
        "status": status,
        "detail": str(detail),
    }
    if request is not None:
        body["instance"] = request.path
    if errors is not None:
        body["errors"] = [{"field": f, "message": str(m)} for f, m in errors]
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type=f"{PROBLEM_CONTENT_TYPE}; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# --- Request body parsing -----------------------------------------------------------

class MalformedJSON(ValueError):
    """The body is not a JSON document we accept (becomes 422, never 400 or 500)."""


def _reject_constant(name: str) -> Any:
    raise MalformedJSON(f"JSON constant {name} is not allowed")


class StrictJSONParser(Parser):
    """json.loads without NaN/Infinity; errors surface as ``MalformedJSON``."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = json.loads(request.body, parse_constant=_reject_constant)
        except MalformedJSON:
            raise
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise MalformedJSON(str(exc)) from exc
        # Every JSON body of this API is an object. Ninja's schemas read other values
        # attribute by attribute, so `[null]` would pass as "all fields left out".
        if not isinstance(data, dict):
            raise MalformedJSON("the request body must be a JSON object")
        return data


# --- Field-level messages from pydantic ---------------------------------------------

def _pydantic_message(error: dict[str, Any]) -> str:
    """A translated message for one pydantic error (pydantic's own text is English only)."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return _("This field is required.")
        return _("At least %(n)d characters.") % {"n": ctx.get("min_length", 0)}
    if kind == "string_too_long":
        return _("At most %(n)d characters.") % {"n": ctx.get("max_length", 0)}
    if kind in ("too_long",):
        return _("At most %(n)d items.") % {"n": ctx.get("max_length", 0)}
    if kind in ("too_short",):
        return _("At least %(n)d items.") % {"n": ctx.get("min_length", 0)}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("Enter a whole number.")
    if kind in ("greater_than_equal", "greater_than"):
        return _("Enter a number of at least %(n)s.") % {"n": ctx.get("ge", ctx.get("gt", ""))}
    if kind in ("less_than_equal", "less_than"):
        return _("Enter a number of at most %(n)s.") % {"n": ctx.get("le", ctx.get("lt", ""))}
    if kind in ("string_type", "string_unicode"):
        return _("Enter text.")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("Enter an object of key/value pairs.")
    if kind in ("list_type", "tuple_type", "set_type"):
        return _("Enter a list.")
    if kind in ("bool_type", "bool_parsing"):
        return _("Enter true or false.")
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return _("Choose one of: %(choices)s.") % {"choices": expected}
    if kind.startswith("datetime") or kind.startswith("date_"):
        return _("Enter a date and time in ISO 8601 format.")
    if kind == "text_unstorable":
        return _("Text cannot contain NUL characters or unpaired surrogates.")
    if kind == "extra_forbidden":
        return _("Unknown field.")
    if kind == "string_pattern_mismatch":
        return _("Enter a valid value.")
    return _("Enter a valid value.")


BODY_PARAM = "payload"  # every operation names its JSON body parameter ``payload``


def _field_from_loc(loc: tuple[Any, ...]) -> str:
    """('body', 'payload', 'properties', 'k') → 'properties.k'; ('query', 'limit') → 'limit'."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
        if parts and parts[0] == BODY_PARAM:
            parts = parts[1:]
        if not parts:
            return "body"
    elif parts and parts[0] in ("query", "path", "header", "cookie", "form", "file"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or NON_FIELD


# --- Exception handlers ---------------------------------------------------------------

def handle_ninja_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [(_field_from_loc(tuple(e.get("loc", ()))), _pydantic_message(e))
              for e in exc.errors]
    return problem(request, 422, _("The request has invalid fields."), errors=errors)


def handle_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    errors: list[tuple[str, str]] = []
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            errors.extend((field, m) for m in messages)
    else:
        errors.extend((NON_FIELD, m) for m in exc.messages)
    return problem(request, 422, _("The request has invalid fields."), errors=errors)


def handle_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(request, 404, _("No such object, or you may not see it."))


def handle_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(request, 403, _("Your role does not allow this."))


def unauthorized(request: HttpRequest) -> HttpResponse:
    challenge = 'Bearer realm="mamori"'
    if request.headers.get("Authorization"):
        challenge += ', error="invalid_token"'
    return problem(
        request, 401, _("Send a valid personal API token: Authorization: Bearer mmr_…"),
        headers={"WWW-Authenticate": challenge},
    )


def handle_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return unauthorized(request)
    if isinstance(exc.__cause__, MalformedJSON):
        return problem(request, 422, _("The request body is not valid JSON."),
                       errors=[("body", _("Send a JSON object (Content-Type: application/json)."))])
    if exc.status_code == 404:
        return handle_not_found(request, exc)
    if exc.status_code == 403:
        return handle_permission_denied(request, exc)
    return problem(request, exc.status_code, _titles().get(exc.status_code, _("Error")))


def handle_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(request, 413, _("The request body is larger than the server accepts."))


def handle_suspicious(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(request, 400, _("The request could not be understood."))


def handle_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error on %s %s", request.method, request.path)
    return problem(request, 500, _("Something went wrong on our side. Quote the X-Request-ID header "
                                   "when you contact support."))


def handle_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database is unreachable or restarting (tests/faults): 503 with Retry-After, not a 500."""
    logger.warning("Database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
    return problem(request, 503, _("The service is temporarily unavailable. Try again in a few seconds."),
                   headers={"Retry-After": "5"})


def install(api) -> None:
    """Register the handlers on a NinjaAPI (most specific classes win by MRO)."""
    api.add_exception_handler(Exception, handle_unexpected)
    api.add_exception_handler(NinjaValidationError, handle_ninja_validation)
    api.add_exception_handler(DjangoValidationError, handle_django_validation)
    api.add_exception_handler(NotFound, handle_not_found)
    api.add_exception_handler(Http404, handle_not_found)
    api.add_exception_handler(ObjectDoesNotExist, handle_not_found)
    api.add_exception_handler(PermissionDenied, handle_permission_denied)
    api.add_exception_handler(DjangoPermissionDenied, handle_permission_denied)
    api.add_exception_handler(HttpError, handle_http_error)
    api.add_exception_handler(RequestDataTooBig, handle_too_big)
    api.add_exception_handler(SuspiciousOperation, handle_suspicious)
    api.add_exception_handler(DatabaseOperationalError, handle_database_unavailable)
    api.add_exception_handler(DatabaseInterfaceError, handle_database_unavailable)
