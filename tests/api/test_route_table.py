"""Every API route, taken from the OpenAPI spec, against every kind of caller.

The table is built from ``/api/v1/openapi.json`` at test time, so a new route is
covered the moment it exists: anonymous → 401; a token of another tenant with
acme's object ids → 404 on by-id routes, and never a trace of acme data on the
others; a viewer → 403 on every write except revoking their own token. A route
whose parameters or body fields this file cannot fill makes the test fail with
a message saying which sample to add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from mamori.audit.models import AuditEvent

WRITE_METHODS = {"post", "put", "patch", "delete"}
# Writes a viewer may do: revoking their own token.
VIEWER_ALLOWED_WRITES = {("delete", "/api/v1/tokens/{token_id}")}


@dataclass
class Route:
    method: str
    path: str
    operation: dict[str, Any]

    @property
    def by_id(self) -> bool:
        return "{" in self.path

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _spec(make_api) -> dict[str, Any]:
    response = make_api().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _routes(spec) -> list[Route]:
    routes = [Route(method, path, op) for path, methods in spec["paths"].items()
              for method, op in methods.items()]
    assert len(routes) >= 20, "the spec looks truncated"
    return routes


def _path_samples(acme) -> dict[str, int]:
    return {
        "workspace_id": acme.workspace.pk,
        "record_id": acme.record.pk,
        "label_id": acme.label.pk,
        "user_id": acme.editor.pk,
        "token_id": acme.viewer_token_id,
        "event_id": AuditEvent.objects.order_by("-id").values_list("id", flat=True).first(),
        "subscription_id": _subscription_id(),
        "export_id": _export_id(),
        "tenant_export_id": _tenant_export_id(),
        "unit_id": _unit_id(),
        "attachment_id": _attachment_id(acme),
    }


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    """Files the samples store (attachments) go to this test's directory."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}


def _attachment_id(acme) -> int:
    import io

    from mamori.audit.events import Actor
    from mamori.records.actions_attachments import upload_attachment
    from mamori.records.models import Attachment

    existing = Attachment.objects.order_by("id").first()
    data = b"%PDF-1.4 acme route table"
    return (existing or upload_attachment(actor=Actor.for_user(acme.admin), record_id=acme.record.pk,
                                          file=io.BytesIO(data), filename="acme.pdf", size=len(data))).pk


def _unit_id() -> int:
    from mamori.access.models import OrgUnit

    existing = OrgUnit.objects.order_by("id").first()
    return (existing or OrgUnit.objects.create(name="acme sales", code="ACME-SALES")).pk


def _subscription_id() -> int:
    from mamori.siem.models import WebhookSubscription

    existing = WebhookSubscription.objects.order_by("id").first()
    return (existing or WebhookSubscription.objects.create(url="https://siem.example/hook", secret="0" * 64)).pk


def _export_id() -> int:
    from datetime import timedelta

    from django.utils import timezone

    from mamori.evidence.models import EvidenceExport

    existing = EvidenceExport.objects.order_by("id").first()
    now = timezone.now()
    return (existing or EvidenceExport.objects.create(since=now - timedelta(days=1), until=now)).pk


def _tenant_export_id() -> int:
    from mamori.lifecycle.models import TenantExport

    existing = TenantExport.objects.order_by("id").first()
    return (existing or TenantExport.objects.create(status=TenantExport.Status.FAILED)).pk


def _query_samples(acme) -> dict[str, Any]:
    return {"workspace": acme.workspace.pk, "label": acme.label.pk}


def _body_samples(acme) -> dict[str, Any]:
    return {
        "workspace_id": acme.workspace.pk,
        "user_id": acme.editor.pk,
        "label_ids": [acme.label.pk],
        "title": "route table",
        "name": "route table",
        "colour": "#123456",
        "description": "route table",
        "body": "route table",
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-01-02T00:00:00Z",
    }


_GENERIC = {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}


def _resolve(spec, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _body(spec, route: Route, acme) -> dict | None:
    request_body = route.operation.get("requestBody")
    if not request_body:
        return None
    if "application/json" not in request_body["content"]:
        return None  # a file upload (text/csv, multipart): sent without a body
    schema = _resolve(spec, request_body["content"]["application/json"]["schema"])
    samples = _body_samples(acme)
    body: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in samples:
            body[name] = samples[name]
        elif name in schema.get("required", []):
            prop = _resolve(spec, prop)
            kind = prop.get("type")
            assert kind in _GENERIC, f"{route}: add a body sample for required field {name!r}"
            body[name] = prop.get("enum", [_GENERIC[kind]])[0]
    return body


def _url(route: Route, acme) -> str:
    samples = _path_samples(acme)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        assert name in samples, f"{route}: add a path sample for {{{name}}}"
        return str(samples[name])

    return re.sub(r"\{(\w+)\}", fill, route.path)


def _call(api, spec, route: Route, acme, *, params: dict | None = None):
    return api.request(route.method.upper(), _url(route, acme), _body(spec, route, acme), params=params)


def _is_problem(response) -> bool:
    return response["Content-Type"].startswith("application/problem+json")


def test_spec_covers_every_ninja_url(db, make_api):
    """No operation hides from the table (for example with include_in_schema=False)."""
    from mamori.api.main import api

    documented = set(_spec(make_api)["paths"])
    patterns, _app, _ns = api.urls
    for pattern in patterns:
        if pattern.name in ("openapi-json", "api-root"):
            continue
        route = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        assert route.rstrip("/") in documented, f"{route} is served but not in the OpenAPI spec"


def test_every_route_needs_a_token(acme, make_api):
    spec = _spec(make_api)
    anonymous = make_api()
    failures = []
    for route in _routes(spec):
        response = _call(anonymous, spec, route, acme)
        if response.status_code != 401 or not _is_problem(response) or "WWW-Authenticate" not in response:
            failures.append(f"{route}: {response.status_code}")
    assert not failures, "anonymous callers must get 401:\n" + "\n".join(failures)


def test_other_tenant_token_never_reaches_acme_data(acme, make_api, outsider_api):
    spec = _spec(make_api)
    _path_samples(acme)  # create the sample rows (and acme's data key, audited) before counting
    acme_events = AuditEvent.objects.count()
    failures = []
    for route in _routes(spec):
        calls = [_call(outsider_api, spec, route, acme)]
        if route.method == "get" and not route.by_id:
            query = {p["name"]: _query_samples(acme)[p["name"]] for p in route.operation.get("parameters", [])
                     if p["in"] == "query" and p["name"] in _query_samples(acme)}
            if query:
                calls.append(_call(outsider_api, spec, route, acme, params=query))
        for response in calls:
            text = response.content.decode().lower()
            if route.by_id and (response.status_code != 404 or not _is_problem(response)):
                failures.append(f"{route}: {response.status_code}, expected 404")
            elif response.status_code >= 500 or response.status_code in (401, 403):
                failures.append(f"{route}: {response.status_code}")
            elif "acme" in text:
                failures.append(f"{route}: acme data in the answer: {text[:200]}")
    assert AuditEvent.objects.count() == acme_events, "a globex token changed something in acme"
    assert not failures, "globex's token on acme ids:\n" + "\n".join(failures)


def test_viewer_cannot_write(acme, make_api):
    spec = _spec(make_api)
    failures = []
    for route in _routes(spec):
        if route.method not in WRITE_METHODS or (route.method, route.path) in VIEWER_ALLOWED_WRITES:
            continue
        response = _call(acme.viewer_api, spec, route, acme)
        if response.status_code != 403 or not _is_problem(response):
            failures.append(f"{route}: {response.status_code} {response.content[:200]!r}")
    assert not failures, "a viewer must get 403 on writes:\n" + "\n".join(failures)
    for method, path in VIEWER_ALLOWED_WRITES:
        route = Route(method, path, spec["paths"][path][method])
        assert _call(acme.viewer_api, spec, route, acme).status_code == 204, route


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_no_route_fails_with_500_for_any_role(acme, make_api, role):
    spec = _spec(make_api)
    api = getattr(acme, f"{role}_api")
    for route in _routes(spec):
        if route.method == "delete":
            continue  # deleting the samples would change what later routes see
        response = _call(api, spec, route, acme)
        assert response.status_code < 500, f"{route}: {response.status_code}"
