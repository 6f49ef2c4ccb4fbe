"""Authentication: only a valid, unexpired, unrevoked token of an active user in an open tenant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.accounts.models import ApiToken
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant


def _assert_401(response):
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401 and body["type"] == "about:blank" and body["title"]
    assert "acme" not in response.content.decode().lower()


def test_no_token_is_401(acme, make_api):
    _assert_401(make_api().get("/me"))
    _assert_401(make_api().get(f"/records/{acme.record.pk}"))


@pytest.mark.parametrize("header", [
    "Bearer nonsense",
    "Bearer mmr_1_000000000000_" + "0" * 64,
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "",
])
def test_bad_tokens_are_401(acme, make_api, header):
    response = make_api(HTTP_AUTHORIZATION=header).get("/records")
    _assert_401(response)


def test_token_with_wrong_secret_is_401(acme, api_token, make_api):
    raw = api_token(acme.editor)
    tampered = raw[:-4] + ("0000" if not raw.endswith("0000") else "1111")
    _assert_401(make_api(tampered).get("/me"))


def test_token_claiming_another_tenant_is_401(acme, api_token, make_api, other_tenant):
    raw = api_token(acme.editor)
    _mmr, _tenant, prefix, secret = raw.split("_")
    _assert_401(make_api(f"mmr_{other_tenant.pk}_{prefix}_{secret}").get("/me"))


def test_revoked_token_is_401(acme, api_token, make_api):
    raw = api_token(acme.editor)
    api = make_api(raw)
    assert api.get("/me").status_code == 200
    ApiToken.objects.filter(user=acme.editor).update(revoked_at=timezone.now())
    _assert_401(api.get("/me"))


def test_expired_token_is_401(acme, api_token, make_api):
    api = make_api(api_token(acme.editor))
    ApiToken.objects.filter(user=acme.editor).update(expires_at=timezone.now() - timedelta(seconds=1))
    _assert_401(api.get("/me"))


def test_token_of_suspended_user_is_401(acme, api_token, make_api):
    api = make_api(api_token(acme.editor))
    type(acme.editor).objects.filter(pk=acme.editor.pk).update(is_active=False)
    _assert_401(api.get("/me"))
    _assert_401(api.post("/workspaces", {"name": "x"}))


def test_token_of_suspended_tenant_is_401(acme, api_token, make_api):
    api = make_api(api_token(acme.editor))
    with use_tenant(None):
        Tenant.objects.filter(pk=acme.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    _assert_401(api.get("/me"))


def test_session_cookie_does_not_authenticate_the_api(acme, console_client):
    client = console_client(acme.admin)
    response = client.get("/api/v1/me")
    assert response.status_code == 401


def test_invalid_token_challenge_says_invalid_token(acme, make_api):
    response = make_api("mmr_1_000000000000_" + "0" * 64).get("/me")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "error=" not in make_api().get("/me")["WWW-Authenticate"]
