"""API fixtures: acme data with a token per role, and a globex outsider token.

Every acme object's text contains "acme" so a leak into another tenant's
answers is easy to spot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.records import actions
from mamori.tenancy.context import apply_db_tenant, current_tenant

API = "/api/v1"


class ApiClient:
    """A test client that sends JSON with a bearer token (or none)."""

    def __init__(self, raw_token: str | None = None, **headers: str):
        if raw_token is not None:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {raw_token}")
        self.client = Client(**headers)

    def request(self, method: str, path: str, data: Any = None, *, raw: bytes | str | None = None,
                params: dict | None = None, **extra):
        url = path if path.startswith(API) else f"{API}{path}"
        kwargs: dict[str, Any] = dict(extra)
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        if params:
            kwargs["QUERY_STRING"] = "&".join(
                f"{k}={v}" for k, vals in params.items() for v in (vals if isinstance(vals, list) else [vals])
            )
        response = getattr(self.client, method.lower())(url, **kwargs)
        _restore_db_tenant()
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, data=None, **kw):
        return self.request("POST", path, data, **kw)

    def put(self, path, data=None, **kw):
        return self.request("PUT", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self.request("PATCH", path, data, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def _restore_db_tenant() -> None:
    """A request ends its own tenant block; put the test's tenant back for RLS (PostgreSQL)."""
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


@dataclass
class Acme:
    tenant: Any
    admin: Any
    editor: Any
    viewer: Any
    workspace: Any
    label: Any
    record: Any
    admin_api: ApiClient
    editor_api: ApiClient
    viewer_api: ApiClient
    viewer_token_id: int


@pytest.fixture
def make_api():
    return ApiClient


@pytest.fixture
def acme(tenant, admin, editor, viewer, api_token):
    from mamori.accounts.models import ApiToken

    by_admin = Actor.for_user(admin)
    workspace = actions.create_workspace(actor=by_admin, name="acme workspace",
                                         description="acme secret plans")
    actions.add_workspace_member(actor=by_admin, workspace_id=workspace.pk, user_id=editor.pk)
    actions.add_workspace_member(actor=by_admin, workspace_id=workspace.pk, user_id=viewer.pk)
    label = actions.create_label(actor=by_admin, name="acme-label", colour="#1f6feb")
    record = actions.create_record(actor=by_admin, workspace_id=workspace.pk, title="acme record",
                                   body="acme body", properties={"owner": "acme"},
                                   label_ids=[label.pk])
    viewer_raw = api_token(viewer)
    return Acme(
        tenant=tenant, admin=admin, editor=editor, viewer=viewer, workspace=workspace, label=label,
        record=record, admin_api=ApiClient(api_token(admin)), editor_api=ApiClient(api_token(editor)),
        viewer_api=ApiClient(viewer_raw),
        viewer_token_id=ApiToken.objects.get(user=viewer).pk,
    )


@pytest.fixture
def outsider_api(outsider, api_token):
    """An admin token of tenant globex."""
    return ApiClient(api_token(outsider))
