"""The API/SCIM middleware stack (mamori.core.stacks): what it skips, what it keeps."""

from __future__ import annotations

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.test import Client

from mamori.audit.events import Actor
from mamori.core import stacks
from mamori.records.actions import create_workspace
from mamori.tenancy.context import use_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_calls(monkeypatch):
    """Counts SessionMiddleware runs (a console-only middleware)."""
    calls = []
    original = SessionMiddleware.process_request

    def counting(self, request):
        calls.append(request.path)
        return original(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", counting)
    return calls


def test_api_request_skips_console_middleware(admin, api_token, api_client, session_calls):
    response = api_client(api_token(admin)).get("/api/v1/records")
    assert response.status_code == 200
    assert session_calls == []
    assert "Set-Cookie" not in response.headers and not response.cookies
    # What the console stack's middleware added before, the API stack still adds.
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Length"] == str(len(response.content))
    assert response["Content-Language"] in ("ja", "en")
    assert "Accept-Language" in response["Vary"]
    assert response["X-Request-ID"]


def test_console_request_keeps_the_full_stack(admin, console_client, session_calls):
    client = console_client(admin)
    session_calls.clear()
    response = client.get(f"/t/{admin.tenant.slug}/")
    assert response.status_code == 200
    assert len(session_calls) == 1


def test_console_session_cookie_does_not_authenticate_the_api(admin, console_client):
    client = console_client(admin)  # signed in to the console, no bearer token
    response = client.get("/api/v1/records")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unauthenticated_api_language_follows_accept_language(db):
    response = Client().get("/api/v1/records", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 401
    assert response["Content-Language"] == "ja"
    response = Client().get("/api/v1/records", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "en"


def test_language_does_not_leak_between_api_requests(admin, api_token, api_client):
    client = api_client(api_token(admin))
    first = client.get("/api/v1/records", HTTP_ACCEPT_LANGUAGE="en")
    second = client.get("/api/v1/records")  # no Accept-Language: the user's or tenant's language
    assert first["Content-Language"] == "en"
    assert second["Content-Language"] == (admin.language or admin.tenant.language)


def test_scim_requests_take_the_api_stack(db, session_calls):
    response = Client().get("/scim/v2/Users")
    assert response.status_code == 401
    assert session_calls == []


def test_termination_grace_still_applies_to_the_api(admin, api_token, api_client, settings):
    assert "mamori.lifecycle.middleware.TerminationGraceMiddleware" in settings.MAMORI_API_STACK


def test_writes_still_work_through_the_api_stack(admin, api_token, api_client):
    with use_tenant(admin.tenant):
        workspace = create_workspace(actor=Actor.for_user(admin), name="Stacked")
    response = api_client(api_token(admin)).post(
        "/api/v1/records", {"workspace_id": workspace.pk, "title": "Through the short stack"},
        content_type="application/json")
    assert response.status_code == 201, response.content


def test_branch_without_end_marker_is_refused(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "mamori.core.stacks.ApiStackEnd"]
    with pytest.raises(ImproperlyConfigured, match="ApiStackEnd"):
        Client().get("/healthz")


def test_api_stack_middleware_with_view_hooks_is_refused(settings):
    settings.MAMORI_API_STACK = ["django.middleware.csrf.CsrfViewMiddleware"]
    with pytest.raises(ImproperlyConfigured, match="process_view"):
        Client().get("/healthz")


def test_async_handler_turns_the_branch_off():
    async def view_handler(request):  # pragma: no cover - never awaited
        return None

    with pytest.raises(MiddlewareNotUsed):
        stacks.ApiStackEnd(view_handler)
    branch = stacks.ApiStackMiddleware(lambda request: "full stack")
    assert branch.api_response is None

    class Request:
        api_stack = True

    assert branch(Request()) == "full stack"
