"""Security headers on every page type, with the production profile's HTTPS settings.

The responses come from the whole middleware stack through Django's test client over
(simulated) HTTPS; ``scripts/security-scan`` checks the same list against a real
production-profile server. See ``tests/security/headers.py`` for what is required.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.security.headers import PAGE_TYPES, header_problems

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_https(settings):
    """The HTTPS part of the production profile (mamori/settings.py, PRODUCTION=True)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True


@pytest.fixture
def responses(production_https, tenant, admin, api_token):
    client = Client()  # middleware is loaded at its first request, after the settings above
    raw = api_token(admin)
    out = {
        "sign-in page": client.get(f"/t/{tenant.slug}/accounts/login/", secure=True),
        "API JSON": client.get("/api/v1/me", secure=True, HTTP_AUTHORIZATION=f"Bearer {raw}"),
        "problem JSON": client.get("/api/v1/me", secure=True),
        "static file": client.get("/static/mamori/mamori.css", secure=True),
        "404 page": client.get("/no-such-page/", secure=True),
        "health endpoint": client.get("/healthz", secure=True),
    }
    signed_in = client.post(f"/t/{tenant.slug}/accounts/login/",
                            {"login": admin.email, "password": PASSWORD}, secure=True)
    assert signed_in.status_code == 302, signed_in.content[:300]
    out["console page"] = client.get(f"/t/{tenant.slug}/", secure=True)
    return out


EXPECTED = {
    "console page": (200, "text/html"),
    "sign-in page": (200, "text/html"),
    "API JSON": (200, "application/json"),
    "problem JSON": (401, "application/problem+json"),
    "static file": (200, "text/css"),
    "404 page": (404, "text/html"),
    "health endpoint": (200, None),
}


def test_every_page_type_is_covered():
    assert set(EXPECTED) == set(PAGE_TYPES)


@pytest.mark.parametrize("kind", sorted(PAGE_TYPES))
def test_security_headers(responses, kind):
    response = responses[kind]
    status, content_type = EXPECTED[kind]
    assert response.status_code == status, (kind, response.status_code)
    if content_type:
        assert response["Content-Type"].startswith(content_type), response["Content-Type"]
    assert header_problems(dict(response.headers)) == [], kind


def test_plain_http_is_redirected_to_https(production_https, tenant):
    response = Client().get(f"/t/{tenant.slug}/accounts/login/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_plain_http_api_and_scim_calls_are_refused_not_redirected(production_https, tenant, admin, api_token):
    """ASVS 4.1.2: a redirect would hide a client that sends its token in clear; it fails instead."""
    raw = api_token(admin)
    for path in ("/api/v1/me", "/scim/v2/Users"):
        response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403 and "Location" not in response, path
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["title"] == "HTTPS is required."
    assert Client().get("/healthz").status_code == 200  # internal probes over plain HTTP still work


SENSITIVE = ("console page", "sign-in page", "API JSON", "problem JSON", "404 page")


@pytest.mark.parametrize("kind", SENSITIVE)
def test_sensitive_responses_are_never_cached(responses, kind):
    """ASVS 14.2.2 / 14.3.2: pages and API answers that may carry customer data: no-store."""
    cache_control = responses[kind]["Cache-Control"]
    assert "no-store" in cache_control and "private" in cache_control, (kind, cache_control)


def test_static_files_keep_their_own_caching(responses):
    assert "no-store" not in responses["static file"].get("Cache-Control", "")


def test_sign_out_clears_the_browser_cache(production_https, tenant, admin):
    client = Client()
    client.post(f"/t/{tenant.slug}/accounts/login/", {"login": admin.email, "password": PASSWORD}, secure=True)
    response = client.post(f"/t/{tenant.slug}/accounts/logout/", secure=True)
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache"'
    assert "Clear-Site-Data" not in client.get(f"/t/{tenant.slug}/accounts/login/", secure=True)


def test_the_check_finds_weak_headers():
    """The checker itself: each weakness is reported (so a passing test means something)."""
    good = {
        "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; object-src 'none'",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "Referrer-Policy": "same-origin", "Permissions-Policy": "camera=()",
        "X-Content-Type-Options": "nosniff",
    }
    assert header_problems(good) == []
    weak = [
        {**good, "Content-Security-Policy": "default-src 'self' 'unsafe-inline'; frame-ancestors 'none'"},
        {**good, "Content-Security-Policy": "default-src 'self'"},
        {**good, "Strict-Transport-Security": "max-age=60"},
        {k: v for k, v in good.items() if k != "Permissions-Policy"},
        {**good, "Referrer-Policy": "unsafe-url"},
        {k: v for k, v in good.items() if k != "X-Content-Type-Options"},
    ]
    for headers in weak:
        assert header_problems(headers), headers
