"""The 503 answers of fault (c), in-process on any database: a database error is "unavailable", not a 500.

``test_postgres_restart.py`` proves it end to end with a real PostgreSQL restart; these tests
pin the two places that turn ``django.db.OperationalError``/``InterfaceError`` into 503 —
the API's exception handlers and the project's 500 handler (middleware, console pages) —
and check that any other error still answers 500.
"""

from __future__ import annotations

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client


class _Failing:
    def __init__(self, exc: Exception):
        self.exc = exc

    def __call__(self, *args, **kwargs):
        raise self.exc


@pytest.mark.parametrize("exc", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_api_answers_503_problem_when_the_database_is_unavailable(monkeypatch, admin, api_token, exc):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(admin)}", raise_request_exception=False)
    monkeypatch.setattr("mamori.api.records.search_records", _Failing(exc))
    response = client.get("/api/v1/records", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/problem+json")
    assert response["Retry-After"] == "5"
    body = json.loads(response.content)
    assert body["status"] == 503 and body["title"] == "サービス利用不可"
    assert "connection" not in body["detail"]  # the driver's message is logged, never sent


def test_api_other_errors_stay_500(monkeypatch, admin, api_token):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(admin)}", raise_request_exception=False)
    monkeypatch.setattr("mamori.api.records.search_records", _Failing(RuntimeError("bug")))
    response = client.get("/api/v1/records")
    assert response.status_code == 500 and "Retry-After" not in response


class _UnreachableTenants:
    class objects:  # noqa: N801 - stands in for the model's manager
        filter = _Failing(OperationalError("the database system is shutting down"))


def test_console_page_answers_503_page_when_the_database_is_unavailable(monkeypatch, tenant):
    monkeypatch.setattr("mamori.tenancy.middleware.Tenant", _UnreachableTenants)
    response = Client(raise_request_exception=False).get(f"/t/{tenant.slug}/accounts/login/",
                                                         HTTP_ACCEPT="text/html")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"shutting down" not in response.content and b"Traceback" not in response.content


def test_api_middleware_error_answers_503_problem(monkeypatch, admin, api_token):
    monkeypatch.setattr("mamori.accounts.tokens.verify_api_token", _Failing(OperationalError("gone")))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(admin)}", raise_request_exception=False)
    response = client.get("/api/v1/records")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert json.loads(response.content)["status"] == 503
