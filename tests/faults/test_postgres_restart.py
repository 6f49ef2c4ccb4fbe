"""Fault (c): PostgreSQL restarted while clients use the API.

The shared PostgreSQL server of the machine is never touched: the test creates a private
cluster (``initdb`` of the Debian packages, run as the ``postgres`` system user when the
tests run as root) on a free loopback port, migrates Mamori into it and starts the
production profile of ``mamori serve`` (gunicorn) against it. Client threads read and
write records through the API while the cluster is stopped (``pg_ctl stop -m fast``) for a
few seconds and started again. Proven:

- while the database is down every answer is ``503 Service Unavailable`` with
  ``Retry-After`` — a problem document for the API, the error page for a console page —
  never a 500 and never a hang (each request is bounded by the client timeout);
- the server process keeps running, and once PostgreSQL is back every request succeeds
  again without anyone touching Mamori (Django's connection health checks reconnect);
- nothing is lost: every write the server acknowledged is in the database, each with its
  audit event, and the tenant chains verify.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.support import REPO, free_port, mamori_cmd
from tests.faults.conftest import production_env, start_server, stop

PG_BIN = Path(os.environ.get("MAMORI_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUEST_TIMEOUT = 10.0  # the bound on any one request (an answer later than this is a hang)
OUTAGE_SECONDS = 4.0
RECOVERY_DEADLINE = 20.0

pytestmark = pytest.mark.postgres


def _skip_or_fail(reason: str):
    if os.environ.get("MAMORI_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class PrivateCluster:
    """A throw-away PostgreSQL cluster owned by a non-root user, on 127.0.0.1:<port>."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            _skip_or_fail(f"no initdb in {PG_BIN} (apt-get install postgresql-15)")
        self.user = None
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                _skip_or_fail("tests run as root and there is no 'postgres' user to own a private cluster")
        self.root = Path(tempfile.mkdtemp(prefix="mamori-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - the Debian PostgreSQL binaries
            [str(PG_BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout, check=False,
            user=self.user.pw_uid if self.user else None, group=self.user.pw_gid if self.user else None,
            cwd=self.root)

    def init(self) -> None:
        result = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                           "--no-instructions")
        if result.returncode != 0:
            _skip_or_fail(f"initdb failed: {result.stderr[-1000:]}")
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c max_connections=60 -c shared_buffers=32MB")
        result = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"),
                           "-w", "-t", "60", "start")
        assert result.returncode == 0, result.stdout + result.stderr + self.log()

    def stop(self, mode: str = "fast") -> None:
        result = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        assert result.returncode == 0, result.stdout + result.stderr + self.log()

    def log(self) -> str:
        path = self.root / "pg.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres():
    cluster = PrivateCluster()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


def _request(method: str, url: str, token: str, payload: dict | None = None, *,
             accept: str = "application/json") -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json", "Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310 - loopback
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    except OSError as exc:
        return {"status": type(exc).__name__, "seconds": time.monotonic() - started, "body": str(exc)}
    return {"status": status, "seconds": time.monotonic() - started, "type": headers.get("Content-Type", ""),
            "retry_after": headers.get("Retry-After"), "body": body[:500].decode("utf-8", "replace")}


class Clients:
    def __init__(self, base: str, tenants: list[dict]):
        self.base, self.tenants = base, tenants
        self.phase = "before"
        self.results: list[tuple[str, str, dict]] = []
        self.acknowledged: dict[str, list[str]] = {t["slug"]: [] for t in tenants}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t, i), daemon=True)
                        for t in tenants for i in range(2)]

    def _run(self, tenant: dict, client: int) -> None:
        n = 0
        while not self.done.is_set():
            phase = self.phase
            started = time.monotonic()
            if n % 3 == 1:
                title = f"pg {client}-{n:05d}"
                result = _request("POST", f"{self.base}/api/v1/records", tenant["token"],
                                  {"workspace_id": tenant["workspace_id"], "title": title})
                kind = "write"
            elif n % 3 == 2:  # a console page (HTML; the tenant is looked up in the database)
                result = _request("GET", f"{self.base}/t/{tenant['slug']}/accounts/login/", "",
                                  accept="text/html")
                kind = "page"
            else:
                result = _request("GET", f"{self.base}/api/v1/records?limit=5", tenant["token"])
                kind = "read"
            result["started"] = started
            with self.lock:
                self.results.append((phase, kind, result))
                if kind == "write" and result["status"] == 201:
                    self.acknowledged[tenant["slug"]].append(title)
            n += 1
            time.sleep(0.02)

    def since(self, count: int) -> list[tuple[str, str, dict]]:
        with self.lock:
            return self.results[count:]

    def __len__(self) -> int:
        with self.lock:
            return len(self.results)


CHECK = """
import json
from mamori.audit.models import AuditEvent
from mamori.records.models import Record
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant
out = {}
for tenant in Tenant.objects.filter(slug__startswith="fault-"):
    with tenant_context(tenant):
        out[tenant.slug] = {
            "titles": sorted(Record.objects.filter(title__startswith="pg ").values_list("title", flat=True)),
            "records": sorted(str(pk) for pk in Record.objects.values_list("pk", flat=True)),
            "events": sorted(AuditEvent.objects.filter(action="record.created").values_list("target_id", flat=True)),
        }
print("JSON" + json.dumps(out))
"""


def _mamori(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(mamori_cmd(*args), env=env, cwd=REPO, capture_output=True, text=True,  # noqa: S603
                          timeout=timeout, check=False)


def test_postgres_restart_gives_503_then_recovers(private_postgres, tmp_path):
    import psycopg

    with psycopg.connect(private_postgres.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE mamori")
    env = production_env(tmp_path / "var", DATABASE_URL=private_postgres.url("mamori"))
    migrated = _mamori(env, "migrate", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    seeded = subprocess.run([mamori_cmd()[0], "-m", "tests.faults.seed", "--tenants", "2"],  # noqa: S603
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    tenants = json.loads(seeded.stdout.strip().splitlines()[-1])["tenants"]

    log = tmp_path / "server.log"
    server, base = start_server(env, log, production=True)
    clients = Clients(base, tenants)
    try:
        for thread in clients.threads:
            thread.start()
        time.sleep(2.0)
        before = len(clients)
        clients.phase = "down"
        private_postgres.stop()
        stopped_at = time.monotonic()  # pg_ctl -w returned: the cluster is down
        time.sleep(OUTAGE_SECONDS)
        # Requests begun once the cluster was down (one begun just before may still finish with 200).
        down = [item for item in clients.since(before) if item[2]["started"] >= stopped_at]
        clients.phase = "restarting"
        private_postgres.start()
        restarted_at, mark = time.monotonic(), len(clients)
        recovered = None
        while time.monotonic() - restarted_at < RECOVERY_DEADLINE:
            recent = clients.since(mark)
            if len(recent) >= 8 and all(r["status"] in (200, 201) for _p, _k, r in recent[-8:]):
                recovered = time.monotonic() - restarted_at
                break
            time.sleep(0.2)
        clients.phase = "after"
        after_mark = len(clients)
        time.sleep(2.0)
        after = clients.since(after_mark)
        clients.done.set()
        for thread in clients.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        assert server.poll() is None, "the server died with its database"
    finally:
        clients.done.set()
        stop(server)

    statuses = Counter((phase, kind, r["status"]) for phase, kind, r in clients.results)
    print("outcomes:", dict(statuses), "recovered after", recovered)
    assert not any(t.is_alive() for t in clients.threads), "a client hung"
    assert all(r["seconds"] < REQUEST_TIMEOUT for _p, _k, r in clients.results), "a request hung"
    assert not [r for _p, _k, r in clients.results if r["status"] == 500], "a 500 answer"
    assert len(down) >= 10, "too few requests during the outage"
    outage = [r for _p, _k, r in down]
    assert {r["status"] for r in outage} == {503}, Counter(r["status"] for r in outage)
    for _p, kind, r in down:
        assert r["retry_after"], r
        assert "Traceback" not in r["body"] and "psycopg" not in r["body"].lower(), r
        if kind == "page":
            assert r["type"].startswith("text/html"), r
        else:
            assert r["type"].startswith("application/problem+json"), r
            assert json.loads(r["body"])["status"] == 503, r
    assert {kind for _p, kind, _r in down} == {"read", "write", "page"}
    assert recovered is not None, f"no recovery within {RECOVERY_DEADLINE} s: {statuses}"
    assert after and {r["status"] for _p, _k, r in after} <= {200, 201}, Counter(r["status"] for *_x, r in after)

    state = json.loads(next(line for line in _mamori(env, "shell", "-v", "0", "-c", CHECK).stdout.splitlines()
                            if line.startswith("JSON"))[4:])
    for tenant in tenants:
        got = state[tenant["slug"]]
        assert got["records"] == got["events"]
        assert set(clients.acknowledged[tenant["slug"]]) <= set(got["titles"])
    verify = _mamori(env, "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
