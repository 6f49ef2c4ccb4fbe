"""Running ``mamori`` in real subprocesses against a throw-away data directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT = 60


def mamori_env(data_dir: Path | None, **extra: str) -> dict[str, str]:
    """A clean environment: no MAMORI_* or DATABASE_URL from the caller unless given."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAMORI_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["MAMORI_LOG_LEVEL"] = "WARNING"
    if data_dir is not None:
        env["MAMORI_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def mamori_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mamori", *args]


def run_mamori(*args: str, env: dict[str, str], input: str | None = None,
               timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(mamori_cmd(*args), env=env, cwd=REPO, input=input, capture_output=True,
                          text=True, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_url_for_current_test_db() -> str:
    """DATABASE_URL of the database pytest-django created (for subprocesses to share)."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    host = s["HOST"] or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    """A migrated, empty SQLite data directory, made once per session."""
    data_dir = tmp_path_factory.mktemp("mamori-template")
    result = run_mamori("migrate", "-v", "0", env=mamori_env(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.fixture
def sqlite_data_dir(migrated_sqlite_template, tmp_path) -> Path:
    """A fresh copy of the migrated template for one test."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    for name in ("mamori.sqlite3", "mamori.sqlite3-wal", "mamori.sqlite3-shm"):
        if (migrated_sqlite_template / name).exists():
            shutil.copy2(migrated_sqlite_template / name, data_dir / name)
    return data_dir
