"""SCIM 2.0 endpoints (RFC 7644) under ``/scim/v2/``.

``TenantMiddleware`` has already verified the SCIM token and opened its tenant. Each
view parses the request with scim2-models, calls a read or a ``mamori.scim.actions``
action, and renders ``application/scim+json``. Every refusal is an RFC 7644 §3.12
error with a ``scimType`` where one applies; 4xx refusals other than "not found" are
also recorded as ``scim.request_refused`` audit events.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import pydantic
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from scim2_models import (
    Context,
    InvalidFilterException,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    MutabilityException,
    PatchOp,
    ResponseParameters,
    SCIMException,
)

from mamori.access.errors import NotFound, PermissionDenied, object_id
from mamori.scim import actions, resources, schema
from mamori.scim.responses import scim_error, scim_response

logger = logging.getLogger("mamori.scim")
MAX_BODY = 1_000_000
_CODES = {"uniqueness": (409, "uniqueness"), "mutability": (400, "mutability"), "last_admin": (400, "mutability")}


class _Refused(Exception):
    def __init__(self, status: int, detail: str, scim_type: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _base_url(request) -> str:
    return request.build_absolute_uri("/scim/v2").rstrip("/")


def _actor(request):
    return actions.scim_actor(request.scim_token)


def _language(request) -> None:
    from mamori.api.auth import activate_request_language

    activate_request_language(request, None)


def _pydantic_refusal(exc: pydantic.ValidationError) -> _Refused:
    errors = exc.errors()
    scim_type = "invalidValue"
    for error in errors:
        kind = str(error.get("type", ""))
        if kind.startswith("scim_"):
            scim_type = kind[5:]
            break
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}".lstrip(": ") for e in errors[:5])
    return _Refused(400, detail, scim_type)


def _validation_refusal(exc: ValidationError) -> _Refused:
    errors = exc.error_dict if hasattr(exc, "error_dict") else {"": exc.error_list}
    for field_name, field_errors in errors.items():
        for error in field_errors:
            message = " ".join(error.messages) if hasattr(error, "messages") else str(error)
            status, scim_type = _CODES.get(error.code or "", (400, "invalidValue"))
            label = f"{field_name}: " if field_name and field_name != "__all__" else ""
            return _Refused(status, f"{label}{message}", scim_type)
    return _Refused(400, "; ".join(exc.messages), "invalidValue")


def scim_view(*methods: str):
    """Allowed methods (else 405), errors as SCIM errors, refusals audited."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            _language(request)
            if request.method not in methods:
                response = scim_error(405, _("Method not allowed."))
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                return scim_error(404, _("Resource not found."))
            except PermissionDenied:
                refusal = _Refused(403, _("This SCIM token may not do this."))
            except SCIMException as exc:
                refusal = _Refused(exc.status, exc.detail, exc.scim_type)
            except pydantic.ValidationError as exc:
                refusal = _pydantic_refusal(exc)
            except ValidationError as exc:
                refusal = _validation_refusal(exc)
            except _Refused as exc:
                refusal = exc
            except IntegrityError:  # a concurrent request created the same userName, e-mail or name
                refusal = _Refused(409, _("Another resource already has this value."), "uniqueness")
            _audit_refusal(request, refusal)
            return scim_error(refusal.status, refusal.detail, refusal.scim_type or None)

        return wrapper

    return decorate


def _audit_refusal(request, refusal: _Refused) -> None:
    try:
        with transaction.atomic():
            actions.record_refusal(actor=_actor(request), method=request.method, path=request.path,
                                   status=refusal.status, scim_type=refusal.scim_type, detail=str(refusal.detail))
    except Exception:  # the refusal is answered even if its record fails  # noqa: BLE001
        logger.exception("could not record a refused SCIM request")


def _body(request) -> dict[str, Any]:
    if len(request.body) > MAX_BODY:
        raise _Refused(413, _("The request body is too large."))
    try:
        data = json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidSyntaxException(detail=_("The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail=_("The request body must be a JSON object."))
    if "\\u0000" in json.dumps(data):  # PostgreSQL text cannot hold NUL characters
        raise InvalidValueException(detail=_("Values cannot contain NUL characters."))
    return data


def _check_schemas(data: dict[str, Any], core: str) -> None:
    """The resource's core schema must be named; the only other schema accepted (and ignored)
    is the enterprise User extension."""
    named = data.get("schemas")
    if not isinstance(named, list) or not all(isinstance(s, str) for s in named):
        raise InvalidSyntaxException(detail=_("\"schemas\" must list the resource's schema URIs."))
    lowered = {s.lower() for s in named}
    allowed = {core.lower()} | ({schema.ENTERPRISE_SCHEMA.lower()} if core == schema.USER_SCHEMA else set())
    if core.lower() not in lowered or lowered - allowed:
        raise InvalidSyntaxException(detail=_("Unsupported or missing schema: %(schemas)s")
                                     % {"schemas": ", ".join(named) or "-"})
    data.pop(schema.ENTERPRISE_SCHEMA, None)


def _response_parameters(source: dict[str, Any]) -> ResponseParameters:
    params = {k: source[k] for k in ("attributes", "excludedAttributes") if source.get(k)}
    try:
        return ResponseParameters.model_validate(params)
    except pydantic.ValidationError:
        raise InvalidValueException(detail=_("Invalid attributes or excludedAttributes.")) from None


def _dump(resource, params: ResponseParameters | None = None, ctx=Context.RESOURCE_QUERY_RESPONSE):
    return resource.model_dump(scim_ctx=ctx, response_parameters=params)


# --- Discovery ---------------------------------------------------------------------


@scim_view("GET")
def service_provider_config(request):
    config = schema.service_provider_config(_base_url(request))
    data = _dump(config)
    data["meta"] = {"resourceType": "ServiceProviderConfig", "location": f"{_base_url(request)}/ServiceProviderConfig"}
    return scim_response(data)


def _list(items: list[dict]) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": len(items),
            "startIndex": 1, "itemsPerPage": len(items), "Resources": items}


def _resource_type_data(request, resource_type) -> dict:
    data = _dump(resource_type)
    data["meta"] = {"resourceType": "ResourceType", "location": f"{_base_url(request)}/ResourceTypes/{resource_type.id}"}
    return data


def _schema_data(request, item) -> dict:
    data = _dump(item)
    data["meta"] = {"resourceType": "Schema", "location": f"{_base_url(request)}/Schemas/{item.id}"}
    return data


@scim_view("GET")
def resource_types(request, rid: str | None = None):
    found = [_resource_type_data(request, rt) for rt in schema.resource_types() if rid in (None, rt.id)]
    if rid is not None:
        if not found:
            raise NotFound
        return scim_response(found[0])
    return scim_response(_list(found))


@scim_view("GET")
def schemas(request, sid: str | None = None):
    found = [_schema_data(request, s) for s in schema.schemas() if sid in (None, s.id)]
    if sid is not None:
        if not found:
            raise NotFound
        return scim_response(found[0])
    return scim_response(_list(found))


@scim_view("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown(request, rest: str = ""):
    raise NotFound


@scim_view("POST")
def root_search(request):
    """``POST /.search`` (RFC 7644 §3.4.3): Users then Groups, one page over both. A filter
    naming an attribute only one type has matches nothing of the other type."""
    source = _search_body(request)
    params = _response_parameters(source)
    start, count = _page(source)
    querysets, invalid = [], None
    for kind, queryset in (("User", resources.user_queryset()), ("Group", resources.group_queryset())):
        expression = source.get("filter")
        if expression:
            if not isinstance(expression, str):
                raise InvalidFilterException(detail=_("The filter must be a string."))
            try:
                queryset = queryset.filter(resources.filter_q(expression, kind)).distinct()
            except InvalidFilterException as exc:
                invalid = invalid or exc
                continue
        querysets.append((kind, queryset))
    if not querysets and invalid is not None:
        raise invalid
    totals = [(kind, queryset, queryset.count()) for kind, queryset in querysets]
    base, offset, items = _base_url(request), start - 1, []
    for kind, queryset, total in totals:
        if offset >= total:
            offset -= total
            continue
        wanted = count - len(items)
        if wanted <= 0:
            break
        for obj in queryset[offset:offset + wanted]:
            resource = (resources.user_resource(obj, base) if kind == "User"
                        else resources.group_resource(obj, base, with_members=_members_wanted(params)))
            items.append(_dump(resource, params, Context.SEARCH_RESPONSE))
        offset = 0
    return scim_response({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                          "totalResults": sum(t for _k, _q, t in totals), "startIndex": start,
                          "itemsPerPage": len(items), "Resources": items})


# --- Listing -------------------------------------------------------------------------


def _int_param(value, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidValueException(detail=_("startIndex and count must be integers.")) from None


def _page(source) -> tuple[int, int]:
    """startIndex (1-based; below 1 counts as 1) and count (0 … MAX_RESULTS)."""
    start = min(max(_int_param(source.get("startIndex"), 1), 1), 2**31)
    count = min(max(_int_param(source.get("count"), schema.MAX_RESULTS), 0), schema.MAX_RESULTS)
    return start, count


def _listing(request, kind: str, source: dict[str, Any]):
    params = _response_parameters(source)
    start, count = _page(source)
    queryset = resources.user_queryset() if kind == "User" else resources.group_queryset()
    expression = source.get("filter")
    if expression:
        if not isinstance(expression, str):
            raise InvalidFilterException(detail=_("The filter must be a string."))
        queryset = queryset.filter(resources.filter_q(expression, kind)).distinct()
    total = queryset.count()
    page = list(queryset[start - 1:start - 1 + count]) if count else []
    base = _base_url(request)
    if kind == "User":
        items = [resources.user_resource(user, base) for user in page]
        model = schema.User
    else:
        members = resources.member_map(page) if _members_wanted(params) else None
        items = [resources.group_resource(unit, base, with_members=members is not None,
                                          member_ids=members.get(unit.pk, []) if members is not None else None)
                 for unit in page]
        model = schema.Group
    listing = ListResponse[model](total_results=total, start_index=start, items_per_page=len(items),
                                  resources=items or None)
    data = listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params)
    data.setdefault("Resources", [])
    return scim_response(data)


def _members_wanted(params: ResponseParameters) -> bool:
    excluded = {str(p).lower() for p in params.excluded_attributes or []}
    included = {str(p).lower() for p in params.attributes or []}
    if "members" in excluded:
        return False
    return not included or any(p.startswith("members") for p in included)


# --- Users -------------------------------------------------------------------------


def _user_or_404(pk: str):
    user = resources.user_queryset().filter(pk=object_id(pk)).first()
    if user is None:
        raise NotFound
    return user


def _user_body(request, ctx) -> schema.User:
    data = _body(request)
    _check_schemas(data, schema.USER_SCHEMA)
    user_name = data.get("userName")
    if not data.get("emails") and isinstance(user_name, str) and "@" in user_name:
        data["emails"] = [{"value": user_name, "primary": True}]
    for key in ("id", "meta"):
        data.pop(key, None)  # readOnly: ignored on input (RFC 7643 §2.2)
    return schema.User.model_validate(data, scim_ctx=ctx, scim_policy=schema.POLICY)


def _user_reply(request, user, status: int = 200):
    resource = resources.user_resource(user, _base_url(request))
    params = _response_parameters(request.GET)
    ctx = Context.RESOURCE_CREATION_RESPONSE if status == 201 else Context.RESOURCE_QUERY_RESPONSE
    return scim_response(_dump(resource, params, ctx), status,
                         location=resource.meta.location if status == 201 else None)


@scim_view("GET", "POST")
def users(request):
    if request.method == "GET":
        return _listing(request, "User", request.GET)
    resource = _user_body(request, Context.RESOURCE_CREATION_REQUEST)
    user = actions.provision_user(actor=_actor(request), data=resources.user_data(resource))
    return _user_reply(request, _user_or_404(user.pk), 201)


@scim_view("POST")
def users_search(request):
    return _listing(request, "User", _search_body(request))


def _search_body(request) -> dict[str, Any]:
    data = _body(request)
    if schema.SEARCH_SCHEMA not in (data.get("schemas") or []):
        raise InvalidSyntaxException(detail=_("A search request names the SearchRequest schema."))
    for key in ("attributes", "excludedAttributes"):
        if isinstance(data.get(key), list):
            data[key] = ",".join(str(v) for v in data[key])
    return data


@scim_view("GET", "PUT", "PATCH", "DELETE")
def user_detail(request, pk: str):
    user = _user_or_404(pk)
    actor = _actor(request)
    if request.method == "GET":
        return _user_reply(request, user)
    if request.method == "DELETE":
        actions.deprovision_user(actor=actor, user=user.pk)
        return scim_response_empty()
    if request.method == "PUT":
        resource = _user_body(request, Context.RESOURCE_REPLACEMENT_REQUEST)
    else:
        resource = resources.user_resource(user, _base_url(request))
        _patch(request, schema.User).patch(resource, scim_policy=schema.POLICY)
        if resource.active is None:
            raise MutabilityException(detail=_("\"active\" cannot be removed; set it to true or false."))
    actions.update_provisioned_user(actor=actor, user=user.pk, data=resources.user_data(resource))
    return _user_reply(request, _user_or_404(user.pk))


def _patch(request, model) -> PatchOp:
    data = _body(request)
    if schema.PATCH_SCHEMA not in (data.get("schemas") or []):
        raise InvalidSyntaxException(detail=_("A PATCH request names the PatchOp schema."))
    operations = data.get("Operations") or data.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntaxException(detail=_("A PATCH request needs a list of Operations."))
    for operation in operations:  # Entra ID sends "Replace", "Add", "Remove"
        if isinstance(operation, dict) and isinstance(operation.get("op"), str):
            operation["op"] = operation["op"].lower()
    data["Operations"] = operations
    return PatchOp[model].model_validate(data, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=schema.POLICY)


def scim_response_empty():
    from django.http import HttpResponse

    return HttpResponse(status=204)


# --- Groups ------------------------------------------------------------------------


def _unit_or_404(pk: str):
    unit = resources.group_queryset().filter(pk=object_id(pk)).first()
    if unit is None:
        raise NotFound
    return unit


def _group_body(request, ctx) -> schema.Group:
    data = _body(request)
    _check_schemas(data, schema.GROUP_SCHEMA)
    for key in ("id", "meta"):
        data.pop(key, None)
    return schema.Group.model_validate(data, scim_ctx=ctx, scim_policy=schema.POLICY)


def _group_reply(request, unit, status: int = 200):
    params = _response_parameters(request.GET)
    resource = resources.group_resource(unit, _base_url(request), with_members=_members_wanted(params))
    ctx = Context.RESOURCE_CREATION_RESPONSE if status == 201 else Context.RESOURCE_QUERY_RESPONSE
    return scim_response(_dump(resource, params, ctx), status,
                         location=resource.meta.location if status == 201 else None)


@scim_view("GET", "POST")
def groups(request):
    if request.method == "GET":
        return _listing(request, "Group", request.GET)
    resource = _group_body(request, Context.RESOURCE_CREATION_REQUEST)
    unit = actions.provision_group(actor=_actor(request), display_name=resource.display_name or "",
                                   external_id=(resource.external_id or "").strip(),
                                   member_ids=resources.member_ids(resource) if resource.members else None)
    return _group_reply(request, _unit_or_404(unit.pk), 201)


@scim_view("POST")
def groups_search(request):
    return _listing(request, "Group", _search_body(request))


@scim_view("GET", "PUT", "PATCH", "DELETE")
def group_detail(request, pk: str):
    unit = _unit_or_404(pk)
    actor = _actor(request)
    if request.method == "GET":
        return _group_reply(request, unit)
    if request.method == "DELETE":
        actions.deprovision_group(actor=actor, unit_id=unit.pk)
        return scim_response_empty()
    if request.method == "PUT":
        resource = _group_body(request, Context.RESOURCE_REPLACEMENT_REQUEST)
    else:
        resource = resources.group_resource(unit, _base_url(request))
        _patch(request, schema.Group).patch(resource, scim_policy=schema.POLICY)
    actions.update_provisioned_group(actor=actor, unit_id=unit.pk, display_name=resource.display_name or "",
                                     external_id=(resource.external_id or "").strip(),
                                     member_ids=resources.member_ids(resource))
    return _group_reply(request, _unit_or_404(unit.pk))
