"""/healthz and /readyz."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from mamori.core import views
from tests.cli.support import mamori_env, run_mamori


@pytest.fixture(autouse=True)
def _fresh_readiness_cache(monkeypatch):
    monkeypatch.setattr(views, "_migrations_applied", False)


def test_healthz_needs_no_database():
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_ok(db):
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["migrations"] == {"status": "ok", "pending": 0}


def test_readyz_503_when_migrations_are_pending(db, monkeypatch):
    class Executor:
        def __init__(self, connection):
            self.loader = type("L", (), {"graph": type("G", (), {"leaf_nodes": lambda self: []})()})()

        def migration_plan(self, targets):
            return [("records", "0099_future"), ("audit", "0042_future")]

    monkeypatch.setattr(views, "MigrationExecutor", Executor)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["checks"]["migrations"] == {"status": "pending", "pending": 2}


def test_readyz_503_when_the_database_is_unreachable(db, monkeypatch):
    from django.db import OperationalError

    class DownConnection:
        vendor = "postgresql"

        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(views, "connection", DownConnection())
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "error", "error": "OperationalError"}
    assert "connection refused" not in response.content.decode()  # no internals leaked


def test_readyz_on_a_fresh_unmigrated_database(tmp_path):
    """A real process pointed at an empty SQLite data directory is alive but not ready."""
    script = (
        "import json\n"
        "from django.test import Client\n"
        "r = Client().get('/readyz'); h = Client().get('/healthz')\n"
        "print(json.dumps({'ready': r.status_code, 'body': r.json(), 'health': h.status_code}))\n"
    )
    result = run_mamori("shell", "-v", "0", "-c", script, env=mamori_env(tmp_path / "empty"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["health"] == 200
    assert data["ready"] == 503
    assert data["body"]["checks"]["database"]["status"] == "ok"
    assert data["body"]["checks"]["migrations"]["status"] == "pending"
    assert data["body"]["checks"]["migrations"]["pending"] > 10
