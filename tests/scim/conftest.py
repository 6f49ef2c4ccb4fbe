"""SCIM fixtures: a SCIM token of the ``tenant`` (acme) and a client that sends it."""

from __future__ import annotations

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

SCIM = "/scim/v2"
CT = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def make_scim_token():
    from mamori.scim.actions import create_scim_token

    def _make(tenant, admin, **kwargs):
        with use_tenant(tenant):
            token, raw = create_scim_token(actor=Actor.for_user(admin), name=kwargs.pop("name", "IdP"), **kwargs)
        return token, raw

    return _make


@pytest.fixture
def scim_token(tenant, admin, make_scim_token):
    return make_scim_token(tenant, admin)[1]


class ScimClient(Client):
    def scim(self, method: str, path: str, data=None, **extra):
        import json

        body = json.dumps(data) if data is not None else ""
        return getattr(self, method.lower())(SCIM + path, body, content_type=CT, **extra) if method != "GET" \
            else self.get(SCIM + path, data or {}, **extra)


@pytest.fixture
def scim(scim_token):
    return ScimClient(HTTP_AUTHORIZATION=f"Bearer {scim_token}")


@pytest.fixture
def scim_for():
    def _client(raw: str) -> ScimClient:
        return ScimClient(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return _client


def new_user(scim, user_name="bjensen@acme.example", **extra):
    body = {"schemas": [USER_SCHEMA], "userName": user_name, **extra}
    response = scim.scim("POST", "/Users", body)
    assert response.status_code == 201, response.content
    return response.json()
