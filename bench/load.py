"""Load test (issue 9 item 4): 100 clients for 60 s over 100 tenants on a production server.

    scripts/load-test                  # the full run: 100 tenants, 100 clients, 60 s
    scripts/load-test --quick          # 10 tenants, 20 clients, 15 s (a smoke run)
    bench/run --only load              # the same through the benchmark runner

Steps:

1. **Fresh PostgreSQL database**: ``BENCH_LOAD_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/mamori_load``) is dropped and created again — point
   it at a scratch name — and ``mamori migrate`` runs (row-level security and the
   application role included).
2. **Seed through the actions** (``bench/load_seed.py``): per tenant a tenant admin with a
   personal API token, an editor with a password, one workspace and ``--records`` records.
3. **Production server**: ``bench/server.py`` — the gunicorn server ``mamori serve`` runs
   (gthread), production profile (fresh secret/signing/master keys, HSTS, CSP, no debug;
   only the TLS redirect and Secure-only cookies are off, as loopback is plain HTTP).
4. **Load**: ``--clients`` threads (``http.client``, keep-alive), each bound to one tenant and
   sending its own ``X-Forwarded-For`` address (the server trusts 127.0.0.1 as its reverse
   proxy, as a deployment does, so per-address limits apply per simulated user), for
   ``--duration`` seconds, each request followed by a random think time (uniform
   0–2 × ``--think`` s; 0 = saturation). Each step picks, by weight: record list, record
   read, record create, text search, audit log query (API, with the tenant admin's token)
   and a console sign-in (GET the form, POST it with the CSRF token and cookie; a new
   session each time; the editor's password is checked with Argon2id). Every answer's
   status is checked: anything unexpected, a timeout or a reset counts as an error.
5. **Afterwards**: ``mamori audit verify`` checks every tenant's chain and the provider's,
   and per tenant the number of records equals the number of ``record.created`` events.
6. **Report**: ``bench/results-load.json`` and the ``load`` section of ``bench/results.md``:
   req/s, p50/p95/p99 overall and per kind of request, errors, targets (zero errors,
   p99 ≤ 500 ms), machine, load average before and after.

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
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = Path(__file__).resolve().parent / "results-load.json"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/mamori_load"
TARGET_P99_MS = 500.0
TIMEOUT = 30.0
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
        "MAMORI_SSL_REDIRECT": "0", "MAMORI_SECURE_COOKIES": "0", "MAMORI_LOG_LEVEL": "WARNING",
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


class Client:
    """One simulated user of one tenant: a keep-alive API connection and occasional sign-ins."""

    def __init__(self, port: int, tenant: dict, rng: random.Random, index: int = 0):
        self.port, self.tenant, self.rng = port, tenant, rng
        self.api = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.address = f"10.{index // 250 % 250}.{index % 250}.7"  # this user's address behind the proxy
        self.auth = {"Authorization": f"Bearer {tenant['token']}", "Accept": "application/json",
                     "X-Forwarded-For": self.address}
        self.record_ids = list(tenant["record_ids"])

    def _api(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = dict(self.auth)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                self.api.request(method, path, body=data, headers=headers)
                response = self.api.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: reconnect once (GET only).
                self.api.close()
                self.api = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
                if attempt or method != "GET":
                    raise
        raise AssertionError("unreachable")

    def step(self, kind: str) -> list[tuple[str, float, bool, str]]:
        """Run one step; returns (kind, seconds, ok, detail) per HTTP request made."""
        if kind == "signin":
            return self._signin()
        started = time.perf_counter()
        expected = 200
        if kind == "list":
            status, body = self._api("GET", "/api/v1/records?limit=20")
        elif kind == "read":
            status, body = self._api("GET", f"/api/v1/records/{self.rng.choice(self.record_ids)}")
        elif kind == "create":
            expected = 201
            status, body = self._api("POST", "/api/v1/records", {
                "workspace_id": self.tenant["workspace_id"], "title": f"Load {self.rng.randrange(10**6)}",
                "body": "Created under load.", "properties": {"source": "load"}})
            if status == 201:
                self.record_ids.append(json.loads(body)["id"])
        elif kind == "search":
            status, body = self._api("GET", "/api/v1/records?limit=20&q=" + quote(f"Quote {self.rng.randrange(20):04d}"))
        elif kind == "audit":
            status, body = self._api("GET", "/api/v1/audit/events?limit=20&action=record.")
        else:
            raise ValueError(kind)
        seconds = time.perf_counter() - started
        return [(kind, seconds, status == expected, "" if status == expected else f"{kind} {status} {body[:200]!r}")]

    def _signin(self) -> list[tuple[str, float, bool, str]]:
        base = f"/t/{self.tenant['slug']}/accounts/login/"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        out = []
        try:
            started = time.perf_counter()
            conn.request("GET", base, headers={"Accept": "text/html", "X-Forwarded-For": self.address})
            response = conn.getresponse()
            html = response.read().decode("utf-8", "replace")
            cookies = _cookies(response)
            token = _CSRF_INPUT.search(html)
            ok = response.status == 200 and token is not None and cookies
            out.append(("signin_form", time.perf_counter() - started, bool(ok),
                        "" if ok else f"sign-in form {response.status}"))
            if not ok:
                return out
            form = urlencode({"csrfmiddlewaretoken": token.group(1), "login": self.tenant["email"],
                              "password": self.tenant["password"]})
            started = time.perf_counter()
            conn.request("POST", base, body=form, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                "X-Forwarded-For": self.address,
                "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
            response = conn.getresponse()
            response.read()
            session = _cookies(response)
            ok = response.status == 302 and any("session" in name for name in session)
            out.append(("signin", time.perf_counter() - started, ok,
                        "" if ok else f"sign-in POST {response.status} {response.getheader('Location')}"))
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


def run_load(port: int, tenants: list[dict], *, clients: int, duration: float, think: float,
             seed: int = 9) -> dict:
    kinds, weights = list(MIX), list(MIX.values())
    samples: list[tuple[str, float, bool, str]] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(port, tenants[index % len(tenants)], rng, index)
        mine = []
        start_gate.wait()
        time.sleep(rng.uniform(0, min(1.0, think or 0.05)))  # do not all start in the same millisecond
        while time.monotonic() < stop_at[0]:
            kind = rng.choices(kinds, weights)[0]
            try:
                mine.extend(client.step(kind))
            except (OSError, http.client.HTTPException) as exc:
                mine.append((kind, TIMEOUT, False, f"{kind} {type(exc).__name__}: {exc}"))
                client.api.close()
            if think:
                time.sleep(rng.uniform(0, 2 * think))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + duration
    started = time.monotonic()
    start_gate.wait()
    for thread in threads:
        thread.join(timeout=duration + TIMEOUT + 30)
    elapsed = time.monotonic() - started
    hung = sum(t.is_alive() for t in threads)
    return summarise(samples, elapsed, hung)


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000, 1)


def summarise(samples: list[tuple[str, float, bool, str]], elapsed: float, hung: int = 0) -> dict:
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


def render_markdown(run: dict) -> str:
    s, r = run["setup"], run["result"]
    ok = "**met**" if run["meets_target"] else "**not met**"
    lines = [
        "## Load test (issue 9 item 4: `scripts/load-test`, `bench/load.py`)",
        "",
        f"{run['date']} · {s['tenants']} tenants, {s['clients']} concurrent clients for {s['duration']} s, "
        f"think time {s['think']} s on average (0 = none) · {s['server']} · PostgreSQL {s['database']} · "
        f"machine: {run['machine']['nproc']} CPUs, {run['machine']['memory_gib']} GiB "
        f"(clients and server on the same machine) · load average before {run['loadavg_before']}, "
        f"after {run['loadavg_after']}{' · **quick run**' if s.get('quick') else ''}",
        "",
        f"**{r['rps']} req/s**, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, **p99 {r['p99_ms']} ms**, "
        f"**{r['errors']} errors** in {r['requests']:,} requests. Target (zero errors, p99 ≤ "
        f"{TARGET_P99_MS:.0f} ms): {ok}.",
        "",
        "| request | count | errors | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {"list": "record list (API)", "read": "record read (API)", "create": "record create (API, audited)",
              "search": "text search (API)", "audit": "audit log query (API)",
              "signin_form": "sign-in form (console GET)", "signin": "sign-in POST (CSRF, Argon2id)"}
    for kind, k in r["kinds"].items():
        lines.append(f"| {labels.get(kind, kind)} | {k['requests']:,} | {k['errors']} | {k['p50_ms']} | "
                     f"{k['p95_ms']} | {k['p99_ms']} |")
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


def write_results(run: dict) -> None:
    from bench.report import save_markdown_section

    RESULTS_JSON.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    save_markdown_section("load", render_markdown(run))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/load-test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--records", type=int, default=20, help="records seeded per tenant")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean think time between a client's requests in seconds (0: saturation)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--quick", action="store_true", help="10 tenants, 20 clients, 15 s")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the results files")
    args, _unknown = parser.parse_known_args(argv)
    if args.quick:
        args.tenants, args.clients, args.duration, args.records = 10, 20, 15.0, 5
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _machine, _postgres_version, _server

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
            log = Path(data_dir) / "server.log"
            with _server(env, workers=args.workers, threads=args.threads, log=log) as port:
                for tenant in tenants:  # warm-up: every tenant once, every process imported
                    Client(port, tenant, random.Random(0)).step("list")
                before = _loadavg()
                print(f"load: {args.clients} clients for {args.duration:.0f} s", flush=True)
                result = run_load(port, tenants, clients=args.clients, duration=args.duration, think=args.think)
                after = _loadavg()
            chains = verify_chains(env)
            records = records_match_events(url)
        run = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "setup": {"tenants": args.tenants, "clients": args.clients, "duration": args.duration,
                      "records_per_tenant": args.records, "think": args.think, "mix": MIX, "quick": args.quick,
                      "server": f"gunicorn gthread, {args.workers} workers × {args.threads} threads, production profile",
                      "database": _postgres_version(url).split(" on ")[0].replace("PostgreSQL ", "")},
            "loadavg_before": before, "loadavg_after": after,
            "result": result, "chains": chains, "records": records,
            "targets": {"errors": 0, "p99_ms": TARGET_P99_MS},
        }
        run["meets_target"] = (result["errors"] == 0 and result["p99_ms"] is not None
                               and result["p99_ms"] <= TARGET_P99_MS and chains["ok"]
                               and not records["mismatched_tenants"])
    finally:
        if not args.keep:
            _drop_database(url)
    if not args.no_write:
        write_results(run)
    print(json.dumps({k: run["result"][k] for k in ("requests", "rps", "p50_ms", "p95_ms", "p99_ms", "errors")}
                     | {"chains_ok": chains["ok"], "meets_target": run["meets_target"]}), flush=True)
    integrity = chains["ok"] and not records["mismatched_tenants"]
    return 0 if integrity and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
