"""A real server for the fuzzer: ``mamori serve`` (gunicorn) on loopback, seeded once per session.

Live-server mode: schemathesis loads ``/api/v1/openapi.json`` from the running process and
sends real HTTP requests, so the whole stack (middleware, tenant resolution from the token,
problem documents, gunicorn) is under test, not a test client.

The server gets its own database, never the test database: a fresh SQLite file in a
temporary data directory, or — when the test run is on PostgreSQL (``DATABASE_URL``) —
a fresh database ``<name>_fuzz`` next to it (row-level security is real there).

Size: ``MAMORI_FUZZ_EXAMPLES`` (default 5) examples per operation and phase, derandomized
(same cases on every run) unless ``MAMORI_FUZZ_SEED`` is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.cli.support import REPO, free_port, mamori_cmd, mamori_env, run_mamori

START_DEADLINE = 60
SEED_TIMEOUT = 120


@dataclass
class FuzzServer:
    base_url: str
    acme: dict
    globex: dict

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    def headers(self, tenant: str = "acme") -> dict[str, str]:
        token = getattr(self, tenant)["token"]
        return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _fresh_postgres_url(url: str) -> str:
    """A new empty database named after the one in ``url`` with ``_fuzz`` appended."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_fuzz"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def _drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in time:\n{log.read_text()}")


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory) -> FuzzServer:
    data_dir = tmp_path_factory.mktemp("fuzz-server")
    # One token makes every request of the run: a limit above it, so the limiter runs without refusing.
    extra = {"MAMORI_WEBHOOK_ALLOW_HTTP_LOOPBACK": "1", "MAMORI_API_RATE_LIMIT": "1000000/60"}
    pg_url = None
    if "postgres" in os.environ.get("DATABASE_URL", ""):
        pg_url = _fresh_postgres_url(os.environ["DATABASE_URL"])
        extra["DATABASE_URL"] = pg_url
    env = mamori_env(data_dir, **extra)
    migrated = run_mamori("migrate", "-v", "0", env=env, timeout=SEED_TIMEOUT)
    assert migrated.returncode == 0, migrated.stderr
    seeded = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [mamori_cmd()[0], "-m", "tests.fuzz.seed"], env=env, cwd=REPO, capture_output=True,
        text=True, timeout=SEED_TIMEOUT, check=False)
    assert seeded.returncode == 0, seeded.stderr
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])

    port = free_port()
    log = data_dir / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            mamori_cmd("serve", "--port", str(port), "--workers", "1", "--threads", "4",
                       "--no-worker", "--no-demo"),
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/healthz", process, log)
        yield FuzzServer(base_url=base, acme=ids["acme"], globex=ids["globex"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if pg_url:
            _drop_postgres(pg_url)


def fuzz_examples() -> int:
    return int(os.environ.get("MAMORI_FUZZ_EXAMPLES", "5"))


def fuzz_seed() -> int | None:
    seed = os.environ.get("MAMORI_FUZZ_SEED")
    return int(seed) if seed else None
