"""Regression tests for what the fuzzer found (in-process, so they run in a second each).

Each was a schemathesis failure against the live server; the fix is in mamori/api/.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(admin, api_token):
    return ApiClient(api_token(admin))


def _errors(response, status=422) -> dict[str, str]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/problem+json")
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


@pytest.mark.parametrize("payload", [[None, None], [], "text", 7, True])
def test_a_json_body_that_is_not_an_object_is_refused(admin_api, payload):
    """Was: PUT /security/attachments with `[null, null]` answered 200 (all fields "left out")."""
    response = admin_api.put("/security/attachments", raw=json.dumps(payload))
    assert "body" in _errors(response)
    response = admin_api.put("/security/ip-allowlist", raw=json.dumps(payload))
    assert "body" in _errors(response)


def test_an_object_body_still_works(admin_api):
    response = admin_api.put("/security/ip-allowlist", {"enabled": False, "entries": []})
    assert response.status_code == 200, response.content[:300]


def test_empty_label_colour_means_the_default_and_the_spec_says_so(admin_api):
    response = admin_api.post("/labels", {"name": "grey", "colour": ""})
    assert response.status_code == 201, response.content
    assert response.json()["colour"] == "#6b7280"
    assert "colour" in _errors(admin_api.post("/labels", {"name": "red", "colour": "red"}))
    from mamori.api.main import api

    pattern = api.get_openapi_schema()["components"]["schemas"]["LabelIn"]["properties"]["colour"]["pattern"]
    assert pattern == "^(#[0-9a-fA-F]{6})?$"


def test_user_import_without_a_file_is_422_not_500(admin_api):
    """Was: multipart/form-data without a boundary → 500; an empty text/csv body → 200."""
    client = admin_api.client
    for path in ("/api/v1/users/import", "/api/v1/users/import/preview"):
        response = client.post(path, data=b"", content_type="multipart/form-data")
        assert "file" in _errors(response), path
        response = client.post(path, data=b"--x\r\nbroken", content_type="multipart/form-data; boundary=x")
        assert "file" in _errors(response), path
        response = client.post(path, data=b"", content_type="text/csv")
        assert "file" in _errors(response), path


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-3", "1e9"])
def test_times_are_iso_8601_not_unix_timestamps(admin_api, value):
    """Was: `?until=0.5` was read as a Unix timestamp although the spec says date-time."""
    assert "until" in _errors(admin_api.get("/audit/events", params={"until": value}))
    assert "until" in _errors(admin_api.get("/signins", params={"until": value}))


def test_iso_times_still_work(admin_api):
    response = admin_api.get("/audit/events", params={"until": "2030-01-01T00:00:00Z", "since": "2020-01-01"})
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("days", [False, True, "30"])
def test_retention_days_must_be_an_integer(admin_api, days):
    """Was: `{"days": false}` was stored as 0 (keep for the contract's life)."""
    response = admin_api.put("/evidence/retention", {"category": "operation", "days": days})
    assert "days" in _errors(response)


@pytest.mark.parametrize("body", [
    {"enabled": False, "entries": [], "confirm_lockout": 0},
    {"enabled": 0, "entries": []},
    {"enabled": "false", "entries": []},
])
def test_allowlist_switches_must_be_booleans(admin_api, body):
    """Was: `confirm_lockout: 0` (and `enabled: 0`) were read as booleans."""
    errors = _errors(admin_api.put("/security/ip-allowlist", body))
    assert set(errors) & {"enabled", "confirm_lockout"}
