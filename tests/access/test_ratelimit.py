"""Per-token request rate limit of the API (mamori.access.ratelimit, ASVS 5.0 V2.4.1)."""

from __future__ import annotations

import pytest

from mamori.access.ratelimit import Limit, SlidingWindow, parse_limit
from mamori.audit.models import AuditEvent

URL = "/api/v1/records"


@pytest.mark.parametrize("value, expected", [
    ("1200/60", Limit(1200, 60)), ("5/1", Limit(5, 1)), ("100", Limit(100, 60)), ("0", None), ("", None),
])
def test_parse_limit(value, expected):
    assert parse_limit(value) == expected


@pytest.mark.parametrize("value", ["-1/60", "10/0", "ten/60", "10/x"])
def test_parse_limit_refuses_nonsense(value):
    with pytest.raises(ValueError):
        parse_limit(value)


def test_sliding_window_counts_refuses_and_recovers():
    window = SlidingWindow(Limit(3, 10))
    start = 1000.0  # the start of a window
    assert [window.hit("t", start + i)[0] for i in range(3)] == [0, 0, 0]
    wait, first = window.hit("t", start + 3)
    assert wait > 0 and first
    wait_again, first_again = window.hit("t", start + 4)
    assert wait_again > 0 and not first_again  # audited once per window
    assert window.hit("other", start + 4) == (0.0, False)  # keys are independent
    # Next window: the full previous one still weighs 1 − elapsed, so the count decays.
    assert window.hit("t", start + 10.5)[0] > 0
    assert window.hit("t", start + 19)[0] == 0  # 3 × 0.1 + 0 < 3
    # Two windows later the past is forgotten.
    assert [window.hit("t", start + 40 + i)[0] for i in range(3)] == [0, 0, 0]


def test_retry_after_points_at_a_time_the_request_is_allowed():
    window = SlidingWindow(Limit(10, 60))
    start = 6000.0
    for i in range(10):
        window.hit("t", start + i)
    wait, _first = window.hit("t", start + 10)
    assert 0 < wait <= 120
    assert window.hit("t", start + 10 + wait)[0] == 0


def test_over_the_limit_the_api_answers_429_with_retry_after_and_audits_once(
        settings, admin, api_token, api_client):
    settings.MAMORI_API_RATE_LIMIT = "3/60"
    client = api_client(api_token(admin))
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    assert int(refused["Retry-After"]) >= 1
    body = refused.json()
    assert body["status"] == 429 and "too many requests" in body["detail"]
    assert client.post(URL, {}, content_type="application/json").status_code == 429  # writes too
    event = AuditEvent.objects.get(action="api.rate_limited")
    assert event.after["limit"] == 3 and event.actor_type == "api_token"


def test_each_token_has_its_own_budget_and_the_message_is_translated(
        settings, admin, editor, api_token, api_client):
    settings.MAMORI_API_RATE_LIMIT = "2/60"
    first = api_client(api_token(admin))
    second = api_client(api_token(editor))
    for _ in range(2):
        assert first.get(URL).status_code == 200
    refused = first.get(URL, HTTP_ACCEPT_LANGUAGE="ja")
    assert refused.status_code == 429 and "リクエストが多すぎます" in refused.json()["detail"]
    assert second.get(URL).status_code == 200


def test_zero_turns_the_limit_off(settings, admin, api_token, api_client):
    settings.MAMORI_API_RATE_LIMIT = "0"
    client = api_client(api_token(admin))
    assert {client.get(URL).status_code for _ in range(5)} == {200}
    assert not AuditEvent.objects.filter(action="api.rate_limited").exists()


def test_429_is_documented_in_the_openapi_schema(db, client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "429" in spec["paths"]["/api/v1/records"]["get"]["responses"]
