"""Fault tests: real ``mamori`` processes killed, starved or cut off from their database.

Every test runs Mamori in subprocesses (``mamori serve``, ``mamori worker``, ``mamori
shell``) against a throw-away database, on loopback only, and bounds every wait:

- SQLite: a fresh copy of the migrated template data directory (``sqlite_data_dir``);
- PostgreSQL (``DATABASE_URL=postgres://…``): the database pytest-django created for this
  run, shared with the subprocesses (the test modules are marked
  ``django_db(transaction=True)``: the rows are committed, and the tables are emptied after
  each test).

The test process itself reads progress straight from the database (``FaultDB.query``:
``sqlite3`` or ``psycopg`` as the superuser, outside row-level security) because starting
a ``mamori shell`` takes a second and a job may finish in less.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.support import (  # noqa: F401 - fixtures re-exported for the fault tests
    REPO,
    free_port,
    mamori_cmd,
    mamori_env,
    migrated_sqlite_template,
    postgres_url_for_current_test_db,
    run_mamori,
    sqlite_data_dir,
)

START_DEADLINE = 60


def on_postgres() -> bool:
    return "postgres" in os.environ.get("DATABASE_URL", "")


@dataclass
class FaultDB:
    env: dict[str, str]
    data_dir: Path
    url: str | None  # PostgreSQL URL; None on SQLite

    @property
    def engine(self) -> str:
        return "postgresql" if self.url else "sqlite"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement outside Mamori (``%s`` placeholders on both engines)."""
        if self.url:
            import psycopg

            with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        conn = sqlite3.connect(self.data_dir / "mamori.sqlite3", timeout=10)
        try:
            cursor = conn.execute(sql.replace("%s", "?"), params)
            rows = cursor.fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    def scalar(self, sql: str, params: tuple = ()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def mamori(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return run_mamori(*args, env={**self.env, **extra}, timeout=timeout)

    def shell_json(self, code: str, timeout: float = 120) -> dict:
        """Run ``code`` in ``mamori shell``; it prints one line ``JSON{…}``."""
        result = self.mamori("shell", "-v", "0", "-c", code, timeout=timeout)
        assert result.returncode == 0, result.stderr[-3000:]
        line = next((line for line in result.stdout.splitlines() if line.startswith("JSON")), None)
        assert line is not None, result.stdout[-2000:] + result.stderr[-2000:]
        return json.loads(line[4:])

    def seed(self, *, tenants: int = 1, records: int = 0, files: int = 0, prefix: str = "fault") -> list[dict]:
        result = subprocess.run(  # noqa: S603 - our interpreter and module
            [mamori_cmd()[0], "-m", "tests.faults.seed", "--tenants", str(tenants), "--records", str(records),
             "--files", str(files), "--prefix", prefix],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])["tenants"]


@pytest.fixture
def fault_db(request, tmp_path) -> FaultDB:
    if on_postgres():  # the test module is marked django_db(transaction=True): the test database exists
        url = postgres_url_for_current_test_db()
        data_dir = tmp_path / "var"
        data_dir.mkdir()
        return FaultDB(mamori_env(data_dir, DATABASE_URL=url), data_dir, url)
    data_dir = request.getfixturevalue("sqlite_data_dir")
    return FaultDB(mamori_env(data_dir), data_dir, None)


def production_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The production profile on plain-HTTP loopback (no TLS redirect, cookies not Secure-only),
    with fresh secret, signing and master keys (as scripts/security-scan runs it)."""
    import base64
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return mamori_env(data_dir, MAMORI_PROFILE="production", MAMORI_SECRET_KEY=secrets.token_urlsafe(60),
                      MAMORI_SIGNING_KEY=signing, MAMORI_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                      MAMORI_ALLOWED_HOSTS="127.0.0.1,localhost", MAMORI_SSL_REDIRECT="0",
                      MAMORI_SECURE_COOKIES="0", **extra)


# --- processes -----------------------------------------------------------------------------


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a ``mamori`` subcommand in its own process group (so SIGKILL reaches its children)."""
    with log.open("ab") as out:
        return subprocess.Popen(mamori_cmd(*args), env=env, cwd=REPO, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT, start_new_session=True)


def kill9(process: subprocess.Popen) -> None:
    """SIGKILL the whole process group: no handler, no cleanup, no flush."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        kill9(process)


def wait_until(predicate: Callable[[], object], *, timeout: float, interval: float = 0.05,
               what: str = "condition", process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            detail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"process exited ({process.returncode}) before {what}:\n{detail}")
        time.sleep(interval)
    detail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{detail}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def start_server(env: dict[str, str], log: Path, *, port: int | None = None, workers: int = 2,
                 threads: int = 4, production: bool = False) -> tuple[subprocess.Popen, str]:
    """``mamori serve`` (gunicorn) on loopback without its task worker; waits for /healthz.

    ``production``: the same gunicorn server through ``bench/server.py`` (``mamori serve``
    refuses the production profile on plain HTTP, which loopback tests need)."""
    port = port or free_port()
    if production:
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - our interpreter and module
                [mamori_cmd()[0], "-m", "bench.server", "--port", str(port), "--workers", str(workers),
                 "--threads", str(threads)], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
    else:
        process = start(["serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads),
                         "--no-worker", "--no-demo"], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{base}/healthz"), timeout=START_DEADLINE, interval=0.2,
                   what="the server to answer /healthz", process=process, log=log)
    except BaseException:
        stop(process)
        raise
    return process, base


def start_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen:
    """``mamori worker`` polling every 0.1 s, without the scheduler (the tests enqueue the jobs)."""
    return start(["worker", "--interval", "0.1", "--worker-id", name, "--no-schedule", "--no-startup-delay"],
                 env, log)
