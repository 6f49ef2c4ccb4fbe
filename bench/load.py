"""Load test (issue 9 item 4): 100 clients for 60 s over 100 tenants on a production server.

    scripts/load-test                  # the full run: 100 tenants, 100 clients, 60 s
    scripts/load-test --quick          # 10 tenants, 20 clients, 15 s (a smoke run)
    scripts/load-test --output /tmp/x  # results into /tmp/x, not bench/ (exploratory runs)
    bench/run --only load              # the same through the benchmark runner

Steps:

1. **Fresh PostgreSQL database**: ``BENCH_LOAD_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/mamori_load``) is dropped and created again — point
   it at a scratch name — and ``mamori migrate`` runs (row-level security and the
   application role included).
2. **Seed through the actions** (``bench/load_seed.py``): per tenant a tenant admin with a
   personal API token, an editor with a password, one workspace and ``--records`` records.
3. **Production server**: ``bench/server.py`` — the gunicorn server ``mamori serve`` runs
   (gthread, ``mamori serve``'s default 2 workers × 4 threads; docs/operations/server.md),
   production profile (fresh secret/signing/master keys, HSTS, CSP, no debug, the default
   log level; only the TLS redirect and Secure-only cookies are off, as loopback is plain
   HTTP), plus a timing log (``--timing-log``: one line per request, for step 6).
   **Warm-up**: every tenant once, then every kind of request through twice as many parallel
   connections as the server has threads, twice — a running server has its templates
   compiled and a database connection open in every thread; the load measures that server.
4. **Load**: ``--clients`` simulated users (``http.client``, keep-alive), one thread each,
   spread over ``--client-processes`` processes (4: one process per 25 users, so that the
   clients' own interpreter lock does not delay reading the answers), each bound to one
   tenant and sending its own ``X-Forwarded-For`` address (the server trusts 127.0.0.1 as
   its reverse proxy, as a deployment does, so per-address limits apply per simulated
   user), for ``--duration`` seconds, each request followed by a random think time (uniform
   0–2 × ``--think`` s; 0 = saturation). Each step picks, by weight: record list, record
   read, record create, text search, audit log query (API, with the tenant admin's token)
   and a console sign-in (GET the form, POST it with the CSRF token and cookie; a new
   session each time; the editor's password is checked with Argon2id). Every answer's
   status is checked: anything unexpected, a timeout or a reset counts as an error. A
   request that could not be sent because the server had just closed the idle keep-alive
   connection (its 5 s keep-alive timeout) is sent again on a new connection, as browsers
   do; the retry is inside the measured time and counted.
5. **Afterwards**: ``mamori audit verify`` checks every tenant's chain and the provider's,
   and per tenant the number of records equals the number of ``record.created`` events.
6. **Where the time goes**: each request carries an ``X-Load-Id``; the server's timing log
   gives, per request, when gunicorn had written the answer, its own request time and the
   worker thread's CPU time. Each client-measured latency splits into: before the
   application (connect, the worker's poller and thread-pool queue), in Django (of which the
   thread's CPU time; the rest waits for PostgreSQL, the GIL or a CPU), and the client's
   share (until the client process had read the answer). *Server side* = the first two.
   CPU-seconds of gunicorn, of the PostgreSQL backends and of the clients during the load
   are reported next to the machine's busy time (other processes included).
7. **Report**: ``bench/results-load.json`` and the ``load`` section of ``bench/results.md``
   (or ``--output DIR``): req/s, p50/p95/p99 overall and per kind of request as the clients
   measure it and on the server side, errors, targets (zero errors, p99 ≤ 500 ms as the
   clients measure it), the breakdown, CPU, machine, load average before and after.
   ``--keep-logs DIR`` keeps the raw material (server log, timing log, client samples).

Clients and server share the machine's CPUs; the figures are what this machine does
with both, not what a dedicated server does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = Path(__file__).resolve().parent / "results-load.json"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/mamori_load"
TARGET_P99_MS = 500.0
TIMEOUT = 30.0
DEFAULT_WORKERS, DEFAULT_THREADS = 2, 4  # mamori serve's defaults (docs/operations/server.md)
# Kind of request → weight (sign-in counts twice: the form and the POST).
MIX = {"list": 20, "read": 25, "create": 18, "search": 15, "audit": 12, "signin": 4}
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def database_url() -> str:
    return os.environ.get("BENCH_LOAD_DATABASE_URL", "").strip() or DEFAULT_URL


def production_env(data_dir: str, url: str) -> dict[str, str]:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAMORI_", "DJANGO_")) and k != "DATABASE_URL"}
    env.update({
        "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "mamori.settings",
        "DATABASE_URL": url, "MAMORI_PROFILE": "production", "MAMORI_DATA_DIR": data_dir,
        "MAMORI_SECRET_KEY": secrets.token_urlsafe(60), "MAMORI_SIGNING_KEY": signing,
        "MAMORI_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "MAMORI_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no TLS redirect, cookies not Secure-only; the rest as deployed.
        "MAMORI_SSL_REDIRECT": "0", "MAMORI_SECURE_COOKIES": "0",
        # As behind the reverse proxy of a deployment: each simulated user has its own address
        # (X-Forwarded-For), so per-address limits (allauth: 30 sign-ins a minute) apply per user.
        "MAMORI_TRUSTED_PROXIES": "127.0.0.1",
    })
    return env


def _fresh_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(parts.path.lstrip("/"))))


def _python(args: list[str], env: dict[str, str], timeout: float = 1800) -> str:
    result = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                            timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-2000:]}"
                           f"{result.stderr[-4000:]}")
    return result.stdout


# --- the clients -----------------------------------------------------------------------------
# Sample: (kind, seconds, ok, detail, load id, sent at, received at); the last two are wall-clock
# times (time.time()) so that they can be set against the server's timing log (bench/server.py).


class Client:
    """One simulated user of one tenant: a keep-alive API connection and occasional sign-ins."""

    def __init__(self, port: int, tenant: dict, rng: random.Random, index: int = 0):
        self.port, self.tenant, self.rng, self.index = port, tenant, rng, index
        self.api = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.address = f"10.{index // 250 % 250}.{index % 250}.7"  # this user's address behind the proxy
        self.auth = {"Authorization": f"Bearer {tenant['token']}", "Accept": "application/json",
                     "X-Forwarded-For": self.address}
        self.record_ids = list(tenant["record_ids"])
        self.sequence = 0
        self.retries = 0

    def _load_id(self) -> str:
        self.sequence += 1
        return f"{self.index}.{self.sequence}"

    def _api(self, method: str, path: str, load_id: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = dict(self.auth)
        headers["X-Load-Id"] = load_id
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            sending = True
            try:
                self.api.request(method, path, body=data, headers=headers)
                sending = False
                response = self.api.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection (its keep-alive timeout) just as
                # this request went out. As browsers and HTTP libraries do, send it once more on a
                # new connection: any request that could not be sent (the server never saw it), a
                # GET also when the answer did not come. Counted in the figures as a retry.
                self.api.close()
                self.api = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
                if attempt or not (sending or method == "GET"):
                    raise
                self.retries += 1
        raise AssertionError("unreachable")

    def step(self, kind: str) -> list[tuple]:
        """Run one step; returns one sample per HTTP request made."""
        if kind == "signin":
            return self._signin()
        load_id = self._load_id()
        expected = 200
        sent, started = time.time(), time.perf_counter()
        if kind == "list":
            status, body = self._api("GET", "/api/v1/records?limit=20", load_id)
        elif kind == "read":
            status, body = self._api("GET", f"/api/v1/records/{self.rng.choice(self.record_ids)}", load_id)
        elif kind == "create":
            expected = 201
            status, body = self._api("POST", "/api/v1/records", load_id, {
                "workspace_id": self.tenant["workspace_id"], "title": f"Load {self.rng.randrange(10**6)}",
                "body": "Created under load.", "properties": {"source": "load"}})
        elif kind == "search":
            status, body = self._api("GET", "/api/v1/records?limit=20&q=" + quote(f"Quote {self.rng.randrange(20):04d}"),
                                     load_id)
        elif kind == "audit":
            status, body = self._api("GET", "/api/v1/audit/events?limit=20&action=record.", load_id)
        else:
            raise ValueError(kind)
        seconds, received = time.perf_counter() - started, time.time()
        if kind == "create" and status == 201:
            self.record_ids.append(json.loads(body)["id"])
        ok = status == expected
        return [(kind, seconds, ok, "" if ok else f"{kind} {status} {body[:200]!r}", load_id, sent, received)]

    def _signin(self) -> list[tuple]:
        base = f"/t/{self.tenant['slug']}/accounts/login/"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        out = []
        try:
            load_id = self._load_id()
            sent, started = time.time(), time.perf_counter()
            conn.request("GET", base, headers={"Accept": "text/html", "X-Forwarded-For": self.address,
                                               "X-Load-Id": load_id})
            response = conn.getresponse()
            raw = response.read()
            seconds, received = time.perf_counter() - started, time.time()
            cookies = _cookies(response)
            token = _CSRF_INPUT.search(raw.decode("utf-8", "replace"))
            ok = bool(response.status == 200 and token is not None and cookies)
            out.append(("signin_form", seconds, ok, "" if ok else f"sign-in form {response.status}",
                        load_id, sent, received))
            if not ok:
                return out
            form = urlencode({"csrfmiddlewaretoken": token.group(1), "login": self.tenant["email"],
                              "password": self.tenant["password"]})
            load_id = self._load_id()
            sent, started = time.time(), time.perf_counter()
            conn.request("POST", base, body=form, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                "X-Forwarded-For": self.address, "X-Load-Id": load_id,
                "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
            response = conn.getresponse()
            response.read()
            seconds, received = time.perf_counter() - started, time.time()
            session = _cookies(response)
            ok = response.status == 302 and any("session" in name for name in session)
            out.append(("signin", seconds, ok,
                        "" if ok else f"sign-in POST {response.status} {response.getheader('Location')}",
                        load_id, sent, received))
            return out
        finally:
            conn.close()


def _cookies(response) -> dict[str, str]:
    found = {}
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            found[name.strip()] = rest.split(";", 1)[0]
    return found


def _client_process(indices: list[int], port: int, tenants: list[dict], start_at: float, stop_at: float,
                    think: float, seed: int, out_path: str) -> None:
    """One client process: a thread per simulated user in ``indices``; samples go to ``out_path``."""
    kinds, weights = list(MIX), list(MIX.values())
    samples: list[tuple] = []
    retries: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(port, tenants[index % len(tenants)], rng, index)
        mine = []
        time.sleep(max(0.0, start_at - time.time()) + rng.uniform(0, min(1.0, think or 0.05)))
        while time.time() < stop_at:
            kind = rng.choices(kinds, weights)[0]
            try:
                mine.extend(client.step(kind))
            except (OSError, http.client.HTTPException) as exc:
                mine.append((kind, TIMEOUT, False, f"{kind} {type(exc).__name__}: {exc}", "-", 0.0, 0.0))
                client.api.close()
            if think:
                time.sleep(rng.uniform(0, 2 * think))
        with lock:
            samples.extend(mine)
            retries.append(client.retries)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in indices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, stop_at - time.time()) + TIMEOUT + 30)
    hung = sum(t.is_alive() for t in threads)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with lock:
        Path(out_path).write_text(json.dumps({"samples": samples, "hung": hung, "retries": sum(retries),
                                              "cpu_seconds": usage.ru_utime + usage.ru_stime}))


def run_load(port: int, tenants: list[dict], *, clients: int, duration: float, think: float,
             processes: int = 4, seed: int = 9) -> tuple[list[tuple], dict]:
    """``clients`` simulated users in ``processes`` client processes; returns (samples, meta)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    processes = max(1, min(processes, clients))
    start_at = time.time() + 1.0 + 0.05 * processes  # every process has started and is waiting
    stop_at = start_at + duration
    with tempfile.TemporaryDirectory(prefix="mamori-load-clients-") as tmp:
        children = []
        for p in range(processes):
            out = str(Path(tmp) / f"clients-{p}.json")
            child = context.Process(target=_client_process, daemon=True, args=(
                list(range(p, clients, processes)), port, tenants, start_at, stop_at, think, seed, out))
            child.start()
            children.append((child, out))
        samples, hung, cpu, retries = [], 0, 0.0, 0
        for child, out in children:
            child.join(timeout=max(0.0, stop_at - time.time()) + TIMEOUT + 60)
            try:
                data = json.loads(Path(out).read_text())
            except (OSError, ValueError):
                hung += 1
                continue
            samples.extend(tuple(s) for s in data["samples"])
            hung += data["hung"]
            cpu += data["cpu_seconds"]
            retries += data["retries"]
    finished = max([s[6] for s in samples if s[6]] + [stop_at])
    return samples, {"elapsed": finished - start_at, "hung": hung, "client_cpu_seconds": round(cpu, 1),
                     "retries": retries,
                     "start_at": start_at, "stop_at": stop_at, "processes": processes}


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000, 1)


def summarise(samples: list[tuple], elapsed: float, hung: int = 0) -> dict:
    per_kind = {}
    for kind in sorted({s[0] for s in samples}):
        rows = [s for s in samples if s[0] == kind]
        times = [s[1] for s in rows]
        per_kind[kind] = {"requests": len(rows), "errors": sum(not s[2] for s in rows),
                          "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95), "p99_ms": _pct(times, 99)}
    times = [s[1] for s in samples]
    errors = [s[3] for s in samples if not s[2]]
    return {"requests": len(samples), "seconds": round(elapsed, 1),
            "rps": round(len(samples) / elapsed, 1) if elapsed else 0.0,
            "errors": len(errors) + hung, "hung_clients": hung, "error_samples": errors[:10],
            "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95), "p99_ms": _pct(times, 99), "kinds": per_kind}


# --- where the time goes ---------------------------------------------------------------------


def read_timing_log(path: Path) -> dict[str, tuple[int, float, float, str, float]]:
    """bench/server.py --timing-log lines → {load id: (pid, end, seconds in the server, status, CPU s)}."""
    found = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] != "-":
            found[parts[0]] = (int(parts[1]), float(parts[2]), int(parts[3]) / 1e6, parts[4], int(parts[5]) / 1e6)
    return found


def decompose(samples: list[tuple], timing: dict) -> dict:
    """Split every measured request into three parts, from the client's and the server's clocks.

    - ``before_app``: from the client sending to gunicorn starting the request (TCP connect for a
      new connection, the worker's poller, the thread-pool queue, reading the request);
    - ``server``: gunicorn's own request time (``%(D)s``: Django and writing the response), of which
      ``cpu`` is the worker thread's CPU time (the rest: waiting for PostgreSQL, for the process's
      GIL held by its other threads, or for a CPU);
    - ``client_read``: from the response being written to the client process having read it
      (loopback transfer, then the client thread waiting for a CPU and its process's GIL).

    ``server_side`` = before_app + server: the latency the server is responsible for.
    """
    per_kind: dict[str, dict[str, list[float]]] = {}
    matched = 0
    tail_parts = []
    per_pid: dict[int, list[float]] = {}
    for kind, seconds, _ok, _detail, load_id, sent, received in samples:
        hit = timing.get(load_id)
        if hit is None or not sent:
            continue
        matched += 1
        pid, end, in_server, _status, cpu = hit
        before = max(0.0, end - in_server - sent)
        after = max(0.0, received - end)
        parts = per_kind.setdefault(kind, {"client": [], "server_side": [], "server": [], "cpu": [],
                                           "before_app": [], "client_read": []})
        parts["client"].append(seconds)
        parts["server_side"].append(end - sent)
        parts["server"].append(in_server)
        parts["cpu"].append(cpu)
        parts["before_app"].append(before)
        parts["client_read"].append(after)
        tail_parts.append((seconds, before, in_server, after, min(cpu, in_server)))
        per_pid.setdefault(pid, []).append(in_server)
    everything = {"client": [], "server_side": [], "server": [], "cpu": [], "before_app": [], "client_read": []}
    for parts in per_kind.values():
        for key, values in parts.items():
            everything[key].extend(values)

    def figures(parts: dict[str, list[float]]) -> dict:
        return {key: {"p50_ms": _pct(v, 50), "p95_ms": _pct(v, 95), "p99_ms": _pct(v, 99)}
                for key, v in parts.items()}

    tail_parts.sort()
    slowest = tail_parts[-max(1, len(tail_parts) // 100):] if tail_parts else []
    total = sum(s[0] for s in slowest) or 1.0
    tail_share = {"requests": len(slowest),
                  "before_app": round(sum(s[1] for s in slowest) / total, 3),
                  "server": round(sum(s[2] for s in slowest) / total, 3),
                  "server_cpu": round(sum(s[4] for s in slowest) / total, 3),
                  "client_read": round(sum(s[3] for s in slowest) / total, 3)}
    return {"matched": matched, "of": len(samples), "all": figures(everything),
            "kinds": {kind: figures(parts) for kind, parts in sorted(per_kind.items())},
            "slowest_1pct_share": tail_share,
            "per_worker": {str(pid): {"requests": len(v), "p50_ms": _pct(v, 50), "p99_ms": _pct(v, 99)}
                           for pid, v in sorted(per_pid.items())}}


def _proc_cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _postgres_backends(url: str) -> list[int]:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                                           "pg_backend_pid()", (name,)).fetchall()]


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


@contextmanager
def load_server(env: dict[str, str], *, workers: int, threads: int, log: Path, timing_log: Path):
    """bench/server.py (the gunicorn server of ``mamori serve``) with its timing log; yields (port, pid)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log, "w", encoding="utf-8") as logfile:
        process = subprocess.Popen(  # noqa: S603 — our interpreter, our module
            [sys.executable, "-m", "bench.server", "--port", str(port), "--workers", str(workers),
             "--threads", str(threads), "--timing-log", str(timing_log)],
            env=env, cwd=ROOT, stdout=logfile, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}; see {log}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"server did not listen within 60 s; see {log}") from None
                    time.sleep(0.2)
            yield port, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def warm_up(port: int, tenants: list[dict], concurrency: int) -> None:
    """Every tenant once, then every kind of request ``concurrency`` times at once, twice.

    A server that has been running has its templates compiled, its translation catalogues
    loaded and a database connection open in every worker thread; a fresh one pays that on the
    first request of each kind in each thread. The load measures the running server, so every
    kind is sent through enough parallel connections to reach every worker and thread first.
    """
    for tenant in tenants:
        Client(port, tenant, random.Random(0)).step("list")
    for kind in [*MIX, *MIX]:
        def one(i: int, kind: str = kind) -> None:
            # Addresses 10.250.x.7 are not used by the measured clients (their own limits stay fresh).
            client = Client(port, tenants[i % len(tenants)], random.Random(i), 250 * 250 * 250 + i)
            client.address = f"10.250.{i % 250}.7"
            client.auth["X-Forwarded-For"] = client.address
            client.step(kind)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)


# --- after the load --------------------------------------------------------------------------


def verify_chains(env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "mamori", "audit", "verify", "--json"], env=env,  # noqa: S603
                            cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return {"ok": False, "chains": 0, "failed": [result.stderr[-500:]]}
    failed = [c for c in report["chains"] if not c.get("ok")]
    return {"ok": result.returncode == 0 and report["ok"], "chains": len(report["chains"]),
            "failed": [str(c)[:300] for c in failed[:5]]}


def records_match_events(url: str) -> dict:
    """Per tenant: records == record.created events (read as the superuser, outside RLS)."""
    import psycopg

    with psycopg.connect(url) as conn:
        records = dict(conn.execute("SELECT tenant_id, count(*) FROM records_record GROUP BY tenant_id").fetchall())
        events = dict(conn.execute("SELECT tenant_id, count(*) FROM audit_auditevent WHERE action = 'record.created' "
                                   "GROUP BY tenant_id").fetchall())
    mismatched = sorted(t for t in set(records) | set(events) if records.get(t, 0) != events.get(t, 0))
    return {"tenants": len(records), "records": sum(records.values()), "mismatched_tenants": mismatched}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --- report ----------------------------------------------------------------------------------

LABELS = {"list": "record list (API)", "read": "record read (API)", "create": "record create (API, audited)",
          "search": "text search (API)", "audit": "audit log query (API)",
          "signin_form": "sign-in form (console GET)", "signin": "sign-in POST (CSRF, Argon2id)"}


def render_markdown(run: dict) -> str:
    s, r, d, cpu = run["setup"], run["result"], run["breakdown"], run["cpu"]
    ok = "**met**" if run["meets_target"] else "**not met**"
    server_p99 = d["all"]["server_side"]["p99_ms"]
    lines = [
        "## Load test (issue 9 item 4: `scripts/load-test`, `bench/load.py`)",
        "",
        f"{run['date']} · {s['tenants']} tenants, {s['clients']} concurrent clients for {s['duration']} s, "
        f"think time {s['think']} s on average (0 = none) · {s['server']} · PostgreSQL {s['database']} · "
        f"machine: {run['machine']['nproc']} CPUs, {run['machine']['memory_gib']} GiB "
        f"(clients: {s['client_processes']} processes on the same machine) · load average before "
        f"{run['loadavg_before']}, after {run['loadavg_after']}{' · **quick run**' if s.get('quick') else ''}",
        "",
        f"**{r['rps']} req/s**, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, **p99 {r['p99_ms']} ms** measured by "
        f"the clients (server side: p99 {server_p99} ms), **{r['errors']} errors** in {r['requests']:,} requests "
        f"({r.get('retried_on_closed_keepalive', 0)} sent again after the server had closed an idle keep-alive "
        "connection, as browsers do; the retry is in the time). "
        f"Target (zero errors, p99 ≤ {TARGET_P99_MS:.0f} ms as the clients measure it): {ok}.",
        "",
        "| request | count | errors | p50 ms | p95 ms | p99 ms | server side p50 / p99 ms | in Django p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, k in r["kinds"].items():
        b = d["kinds"].get(kind, {})
        side = b.get("server_side", {})
        app = b.get("server", {})
        lines.append(f"| {LABELS.get(kind, kind)} | {k['requests']:,} | {k['errors']} | {k['p50_ms']} | "
                     f"{k['p95_ms']} | {k['p99_ms']} | {side.get('p50_ms')} / {side.get('p99_ms')} | "
                     f"{app.get('p99_ms')} |")
    a, t = d["all"], d["slowest_1pct_share"]
    lines += [
        "",
        f"Where the time goes ({d['matched']:,} of {d['of']:,} requests matched with the server's timing log, "
        "`bench/server.py --timing-log`): *server side* runs from the client sending the request to gunicorn "
        "having written the answer — connection, worker poller and thread-pool queue "
        f"(p50 {a['before_app']['p50_ms']} ms, p99 {a['before_app']['p99_ms']} ms), then Django and the write "
        f"(*in Django*: p50 {a['server']['p50_ms']} ms, p99 {a['server']['p99_ms']} ms; the worker thread's CPU "
        f"time: p50 {a['cpu']['p50_ms']} ms, p99 {a['cpu']['p99_ms']} ms); the rest, until the client "
        f"process has read the answer, is the client's (p50 {a['client_read']['p50_ms']} ms, p99 "
        f"{a['client_read']['p99_ms']} ms). In the slowest 1 % ({t['requests']} requests): "
        f"{t['before_app']:.0%} queue before the application, {t['server']:.0%} in Django (of which "
        f"{t['server_cpu']:.0%} the thread's own CPU time, the rest waiting for the GIL, a CPU or PostgreSQL), "
        f"{t['client_read']:.0%} on the client side.",
        "",
        f"CPU during the load ({cpu['seconds']} s × {run['machine']['nproc']} CPUs = {cpu['capacity']} CPU-s): "
        f"gunicorn {cpu['server']} CPU-s, PostgreSQL backends {cpu['postgres']} CPU-s, load clients "
        f"{cpu['clients']} CPU-s; the whole machine {cpu['machine_busy']} CPU-s busy "
        f"({cpu['machine_busy_pct']} %, other processes included).",
    ]
    c, m = run["chains"], run["records"]
    lines += [
        "",
        f"After the load: `mamori audit verify` checked {c['chains']} chains (every tenant and the provider): "
        f"{'all verify' if c['ok'] else 'FAILED: ' + '; '.join(c['failed'])}. Records and `record.created` "
        f"events match in {m['tenants'] - len(m['mismatched_tenants'])} of {m['tenants']} tenants "
        f"({m['records']:,} records).",
    ]
    if r["error_samples"]:
        lines += ["", "First errors: " + "; ".join(f"`{e[:160]}`" for e in r["error_samples"][:5])]
    return "\n".join(lines)


def write_results(run: dict, output: Path | None = None) -> None:
    from bench.report import save_markdown_section

    text = json.dumps(run, indent=2, ensure_ascii=False) + "\n"
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / RESULTS_JSON.name).write_text(text, encoding="utf-8")
        (output / "results-load.md").write_text(render_markdown(run) + "\n", encoding="utf-8")
        return
    RESULTS_JSON.write_text(text, encoding="utf-8")
    save_markdown_section("load", render_markdown(run))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/load-test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--records", type=int, default=20, help="records seeded per tenant")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean think time between a client's requests in seconds (0: saturation)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per gunicorn worker")
    parser.add_argument("--client-processes", type=int, default=4,
                        help="processes the client threads are spread over (each has its own GIL)")
    parser.add_argument("--quick", action="store_true", help="10 tenants, 20 clients, 15 s")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the results files")
    parser.add_argument("--keep-logs", type=Path,
                        help="copy the server log, its timing log and the client samples into this directory")
    parser.add_argument("--output", type=Path,
                        help="write results-load.json and results-load.md into this directory instead of bench/")
    args, _unknown = parser.parse_known_args(argv)
    if args.quick:
        args.tenants, args.clients, args.duration, args.records = 10, 20, 15.0, 5
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _machine, _postgres_version

    url = database_url()
    print(f"load: fresh database {urlsplit(url).path.lstrip('/')}; migrate; seed {args.tenants} tenants", flush=True)
    _fresh_database(url)
    try:
        with tempfile.TemporaryDirectory(prefix="mamori-load-") as data_dir:
            env = production_env(data_dir, url)
            _python(["-m", "mamori", "migrate", "-v", "0"], env)
            seeded = json.loads(_python(["-m", "bench.load_seed", "--tenants", str(args.tenants),
                                         "--records", str(args.records)], env).strip().splitlines()[-1])
            tenants = seeded["tenants"]
            log, timing_log = Path(data_dir) / "server.log", Path(data_dir) / "timing.log"
            with load_server(env, workers=args.workers, threads=args.threads, log=log,
                             timing_log=timing_log) as (port, server_pid):
                warm_up(port, tenants, concurrency=2 * args.workers * args.threads)
                timing_log.write_bytes(b"")  # the server appends (O_APPEND): only the load's lines from here
                server_pids = _descendants(server_pid)
                pg_pids = _postgres_backends(url)
                cpu_before = (_proc_cpu_seconds(server_pids), _proc_cpu_seconds(pg_pids), _machine_busy())
                before = _loadavg()
                print(f"load: {args.clients} clients in {args.client_processes} processes for "
                      f"{args.duration:.0f} s", flush=True)
                samples, meta = run_load(port, tenants, clients=args.clients, duration=args.duration,
                                         think=args.think, processes=args.client_processes)
                after = _loadavg()
                pg_pids_after = _postgres_backends(url)
                cpu_after = (_proc_cpu_seconds(server_pids), _proc_cpu_seconds(pg_pids), _machine_busy())
                pg_new = _proc_cpu_seconds([p for p in pg_pids_after if p not in pg_pids])
            timing = read_timing_log(timing_log)
            if args.keep_logs:  # investigation: the raw material of the figures
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for path in (timing_log, log):
                    (args.keep_logs / path.name).write_bytes(path.read_bytes())
                (args.keep_logs / "samples.json").write_text(json.dumps(samples), encoding="utf-8")
            result = summarise(samples, meta["elapsed"], meta["hung"])
            result["retried_on_closed_keepalive"] = meta["retries"]
            breakdown = decompose(samples, timing)
            chains = verify_chains(env)
            records = records_match_events(url)
        capacity = cpu_after[2][1] - cpu_before[2][1]  # CPU-seconds of all CPUs, busy or idle
        seconds = capacity / (os.cpu_count() or 1)
        busy = cpu_after[2][0] - cpu_before[2][0]
        cpu = {"seconds": round(seconds, 1), "capacity": round(capacity, 1),
               "server": round(cpu_after[0] - cpu_before[0], 1),
               "postgres": round(cpu_after[1] - cpu_before[1] + pg_new, 1),
               "clients": meta["client_cpu_seconds"], "machine_busy": round(busy, 1),
               "machine_busy_pct": round(100 * busy / max(1e-9, capacity))}
        run = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "setup": {"tenants": args.tenants, "clients": args.clients, "duration": args.duration,
                      "records_per_tenant": args.records, "think": args.think, "mix": MIX, "quick": args.quick,
                      "client_processes": meta["processes"],
                      "server": f"gunicorn gthread, {args.workers} workers × {args.threads} threads, production profile",
                      "database": _postgres_version(url).split(" on ")[0].replace("PostgreSQL ", "")},
            "loadavg_before": before, "loadavg_after": after,
            "result": result, "breakdown": breakdown, "cpu": cpu, "chains": chains, "records": records,
            "targets": {"errors": 0, "p99_ms": TARGET_P99_MS},
        }
        integrity = chains["ok"] and not records["mismatched_tenants"]
        run["meets_target"] = (result["errors"] == 0 and result["p99_ms"] is not None
                               and result["p99_ms"] <= TARGET_P99_MS and integrity)
        server_p99 = breakdown["all"]["server_side"]["p99_ms"]
        run["meets_target_server_side"] = (result["errors"] == 0 and server_p99 is not None
                                           and server_p99 <= TARGET_P99_MS and integrity)
    finally:
        if not args.keep:
            _drop_database(url)
    if not args.no_write:
        write_results(run, args.output)
    print(json.dumps({k: run["result"][k] for k in ("requests", "rps", "p50_ms", "p95_ms", "p99_ms", "errors")}
                     | {"server_side_p99_ms": breakdown["all"]["server_side"]["p99_ms"],
                        "in_django_p99_ms": breakdown["all"]["server"]["p99_ms"],
                        "slowest_1pct_share": breakdown["slowest_1pct_share"], "cpu": cpu,
                        "loadavg": [before, after],
                        "chains_ok": chains["ok"], "meets_target": run["meets_target"]}), flush=True)
    return 0 if integrity and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
