"""GET/PUT /api/v1/security/password-policy: tenant admins only, problems with field errors."""

from __future__ import annotations

import pytest

from mamori.accounts.models import PasswordPolicy
from mamori.accounts.policy import DEFAULT, preset
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.api.conftest import ApiClient

URL = "/api/v1/security/password-policy"


@pytest.fixture
def admin_api(admin, api_token):
    return ApiClient(api_token(admin))


def test_get_returns_the_defaults_with_presets(admin_api):
    response = admin_api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in DEFAULT.as_dict()} == DEFAULT.as_dict()
    assert body["asvs_notes"] == []
    assert [p["slug"] for p in body["presets"]] == ["recommended", "four_classes", "three_classes_expiry"]


def test_put_replaces_the_policy_and_is_audited(admin_api):
    policy = preset("three_classes_expiry").policy.as_dict()
    response = admin_api.request("PUT", URL, policy, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expiry_days"] == 90 and body["max_length"] == 16
    assert {n["field"] for n in body["asvs_notes"]} == {"min_length", "max_length", "allowed_symbols",
                                                       "class_rule", "expiry_days"}
    assert PasswordPolicy.objects.get().expiry_days == 90
    event = AuditEvent.objects.filter(action="security.password_policy_updated").get()
    assert event.after["expiry_days"] == 90
    assert admin_api.get(URL).json()["expiry_days"] == 90


def test_put_with_invalid_settings_is_a_problem_with_field_errors(admin_api):
    body = {**DEFAULT.as_dict(), "min_length": 4, "allowed_symbols": "!あ", "history_count": 30}
    response = admin_api.request("PUT", URL, body, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"min_length", "allowed_symbols", "history_count"}
    assert "最小" in errors["min_length"]
    assert not PasswordPolicy.objects.exists()


def test_put_needs_every_field(admin_api):
    response = admin_api.request("PUT", URL, {"min_length": 14})
    assert response.status_code == 422
    assert "max_length" in {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_non_admins_get_a_403_problem(request, role, api_token):
    api = ApiClient(api_token(request.getfixturevalue(role)))
    for response in (api.get(URL), api.request("PUT", URL, DEFAULT.as_dict())):
        assert response.status_code == 403
        assert response["Content-Type"].startswith("application/problem+json")
    assert not PasswordPolicy.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").count() == 2


def test_other_tenant_is_unaffected(admin_api, outsider, api_token, other_tenant):
    admin_api.request("PUT", URL, preset("four_classes").policy.as_dict())
    outsider_api = ApiClient(api_token(outsider))
    assert outsider_api.get(URL).json()["min_length"] == 12
    with use_tenant(other_tenant):
        assert not PasswordPolicy.objects.exists()
