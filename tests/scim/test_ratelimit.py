"""The per-token request rate limit applies to SCIM tokens too (mamori.access.ratelimit)."""

from __future__ import annotations

from mamori.audit.models import AuditEvent


def test_scim_token_over_the_limit_gets_a_429_scim_error(settings, scim):
    settings.MAMORI_API_RATE_LIMIT = "2/60"
    assert [scim.scim("GET", "/Users").status_code for _ in range(2)] == [200, 200]
    refused = scim.scim("GET", "/Users", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    body = refused.json()
    assert body["status"] == "429" and "too many requests" in body["detail"]
    assert AuditEvent.objects.filter(action="scim.rate_limited").count() == 1
