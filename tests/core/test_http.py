"""Cross-cutting HTTP behaviour: request ids, security headers, size limits, errors."""

from django.test import Client


def test_request_id_is_echoed_or_generated(db):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="abcDEF12345678")
    assert response["X-Request-ID"] == "abcDEF12345678"
    injected = Client().get("/healthz", HTTP_X_REQUEST_ID="bad\nid")
    assert injected["X-Request-ID"] != "bad\nid" and len(injected["X-Request-ID"]) == 32


def test_security_headers_on_html_pages(tenant):
    response = Client().get("/t/acme/accounts/login/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_oversized_form_body_is_413_not_500(tenant, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = Client().post("/t/acme/accounts/login/", {"login": "x" * 5000, "password": "y"})
    assert response.status_code == 413


def test_unknown_tenant_and_unknown_page_are_404_pages(db):
    assert Client().get("/t/no-such-tenant/accounts/login/").status_code == 404
    assert Client().get("/nothing-here").status_code == 404


def test_healthz_and_readyz(db):
    assert Client().get("/healthz").json() == {"status": "ok"}
    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["status"] == "ok"
