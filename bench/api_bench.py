"""API benchmark: Mamori's layers against bare Django, on SQLite and PostgreSQL.

For each database this benchmark:

1. starts from a fresh database: SQLite in a new temporary ``MAMORI_DATA_DIR``;
   PostgreSQL (when ``BENCH_DATABASE_URL`` or ``DATABASE_URL`` is a postgres
   URL) as a database dropped and created anew under the URL's name;
2. migrates and seeds, through Mamori's actions: one tenant, one workspace, five
   labels, N records (default 2,000) with labels, and an API token;
3. starts two production servers, the one ``mamori serve`` runs (gunicorn,
   gthread, 2 workers × 4 threads, production profile), on free loopback ports:
   one with Mamori's settings and one with ``bench.bare_settings`` (plain Django
   middleware, ``bench.bare_views`` doing the same record queries);
4. drives both with concurrent keep-alive HTTP clients (threads using
   ``http.client``) for a fixed number of requests per case, bounded in time:
   (a) ``GET /api/v1/records?limit=20``, (b) ``GET /api/v1/records/{id}``,
   (c) ``POST /api/v1/records``. Each case is measured in ABBA order (Mamori,
   bare, bare, Mamori; half the requests each time) so drift hurts both alike;
5. counts the SQL statements each side runs per case (in-process probe);
6. writes ``bench/results.json`` (merged per database) and ``bench/results.md``.

Targets (issue 2): p50 latency of reads ≤ 1.15 × bare; create with its audit
event ≤ 1.5 × bare.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import platform
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
TARGETS = {"list": 1.15, "read": 1.15, "create": 1.5}
CASES = ["list", "read", "create"]
CASE_TITLES = {
    "list": "GET /api/v1/records?limit=20",
    "read": "GET /api/v1/records/{id}",
    "create": "POST /api/v1/records",
}
EXPECTED_STATUS = {"list": 200, "read": 200, "create": 201}


# --- Databases -----------------------------------------------------------------------


def _postgres_url() -> str | None:
    for name in ("BENCH_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "").strip()
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return None


def _fresh_postgres(url: str) -> str:
    """Drop and create the database named in ``url``; return the URL."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "mamori_bench"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}"))


def _drop_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(parts.path.lstrip("/"))
            )
        )


def _postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version()").fetchone()[0]


# --- Processes -------------------------------------------------------------------------


def _run_python(args: list[str], env: dict[str, str], *, capture: bool = True) -> str:
    result = subprocess.run(  # noqa: S603 — our interpreter, our modules
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return result.stdout or ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _server(env: dict[str, str], *, workers: int, threads: int, log: Path):
    port = _free_port()
    with open(log, "w", encoding="utf-8") as logfile:
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "bench.server",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            env=env,
            cwd=ROOT,
            stdout=logfile,
            stderr=subprocess.STDOUT,
        )
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
                        raise RuntimeError(
                            f"server did not listen within 60 s; see {log}"
                        ) from None
                    time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


# --- Load ----------------------------------------------------------------------------------


class Load:
    """Concurrent keep-alive clients sending one kind of request to one server."""

    def __init__(self, port: int, case: str, seed: dict, *, token: str | None, rng_seed: int):
        self.port = port
        self.case = case
        self.seed = seed
        self.headers = {"Accept": "application/json", "User-Agent": "mamori-bench/1"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.rng = random.Random(rng_seed)
        self.lock = threading.Lock()
        self.created = itertools.count(1)

    def request(self) -> tuple[str, str, str | None]:
        if self.case == "list":
            return "GET", "/api/v1/records?limit=20", None
        if self.case == "read":
            with self.lock:
                record_id = self.rng.choice(self.seed["record_ids"])
            return "GET", f"/api/v1/records/{record_id}", None
        n = next(self.created)
        labels = self.seed["label_ids"]
        body = json.dumps(
            {
                "workspace_id": self.seed["workspace_id"],
                "title": f"Bench record {n} — 新規",
                "body": "Created by the API benchmark. " * 6,
                "properties": {"priority": "normal", "source": "bench"},
                "classification": "internal",
                "label_ids": [labels[n % len(labels)], labels[(n + 2) % len(labels)]],
            }
        )
        return "POST", "/api/v1/records", body

    def run(self, total: int, concurrency: int, time_limit: float) -> dict:
        latencies: list[float] = []
        errors: list[str] = []
        reconnects = [0]
        next_index = itertools.count()
        deadline = time.monotonic() + time_limit
        expected = EXPECTED_STATUS[self.case]

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            mine: list[float] = []
            try:
                while next(next_index) < total and time.monotonic() < deadline:
                    method, path, body = self.request()
                    headers = dict(self.headers)
                    if body is not None:
                        headers["Content-Type"] = "application/json"
                    for attempt in (1, 2):
                        start = time.perf_counter()
                        try:
                            conn.request(method, path, body=body, headers=headers)
                            response = conn.getresponse()
                            payload = response.read()
                        except (
                            http.client.RemoteDisconnected,
                            ConnectionError,
                            http.client.BadStatusLine,
                        ):
                            # The server closed an idle keep-alive connection: reconnect once.
                            conn.close()
                            reconnects[0] += 1
                            if attempt == 2:
                                raise
                            continue
                        elapsed = time.perf_counter() - start
                        break
                    if response.status != expected:
                        with self.lock:
                            errors.append(f"{response.status} {payload[:200]!r}")
                    else:
                        mine.append(elapsed)
                    if response.will_close:
                        conn.close()
            finally:
                conn.close()
                with self.lock:
                    latencies.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        return {
            "latencies": latencies,
            "errors": errors,
            "wall": wall,
            "truncated": time.monotonic() >= deadline,
            "reconnects": reconnects[0],
        }


def _summary(parts: list[dict]) -> dict:
    latencies = sorted(x for part in parts for x in part["latencies"])
    errors = [e for part in parts for e in part["errors"]]
    wall = sum(part["wall"] for part in parts)
    n = len(latencies)

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(n - 1, max(0, round(p / 100 * n + 0.5) - 1))] * 1000

    return {
        "requests": n,
        "errors": len(errors),
        "error_samples": errors[:3],
        "seconds": round(wall, 3),
        "req_per_s": round(n / wall, 1) if wall else 0.0,
        "p50_ms": round(pct(50), 2),
        "p90_ms": round(pct(90), 2),
        "p99_ms": round(pct(99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "truncated": any(part["truncated"] for part in parts),
        "reconnects": sum(part["reconnects"] for part in parts),
    }


def _abba(rounds: int) -> list[str]:
    """Mamori, bare, bare, Mamori, Mamori, bare… so both sides see the same drift."""
    order: list[str] = []
    for i in range(rounds):
        order += ["mamori", "bare"] if i % 2 == 0 else ["bare", "mamori"]
    return order


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --- One database ---------------------------------------------------------------------------


def _base_env(data_dir: str, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAMORI_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "mamori.settings",
            "MAMORI_PROFILE": "production",
            "MAMORI_DATA_DIR": data_dir,
            "MAMORI_SECRET_KEY": secrets.token_urlsafe(48),
            # The production profile refuses to start without a master key (mamori.E121).
            "MAMORI_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "MAMORI_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            # Plain HTTP on loopback: no TLS redirect, cookies not Secure-only. The rest
            # of the production profile (HSTS, CSP, no debug) stays as deployed.
            "MAMORI_SSL_REDIRECT": "0",
            "MAMORI_SECURE_COOKIES": "0",
            "MAMORI_LOG_LEVEL": "WARNING",
            # One token sends every request of a case: a per-token limit above the benchmark's
            # rate, so the limiter's counting is measured but never refuses.
            "MAMORI_API_RATE_LIMIT": "1000000/60",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def bench_database(kind: str, args) -> dict:
    data_dir = tempfile.mkdtemp(prefix=f"mamori-bench-{kind}-")
    pg_url = None
    try:
        if kind == "postgresql":
            pg_url = _fresh_postgres(_postgres_url() or "")
        env = _base_env(data_dir, pg_url)
        log_dir = Path(data_dir)
        print(f"[{kind}] migrating a fresh database…", flush=True)
        _run_python(["-m", "mamori", "migrate", "--noinput", "-v", "0"], env)
        print(f"[{kind}] seeding {args.records} records through the actions…", flush=True)
        t0 = time.perf_counter()
        seed = json.loads(_run_python(["-m", "bench.seed", "--records", str(args.records)], env))
        seed_seconds = time.perf_counter() - t0
        seed_file = log_dir / "seed.json"
        seed_file.write_text(json.dumps(seed), encoding="utf-8")

        bare_env = dict(
            env,
            DJANGO_SETTINGS_MODULE="bench.bare_settings",
            BENCH_TENANT_ID=str(seed["tenant_id"]),
            BENCH_USER_ID=str(seed["user_id"]),
        )
        results: dict = {"cases": {}, "loadavg_before": _loadavg()}
        with (
            _server(
                env, workers=args.workers, threads=args.threads, log=log_dir / "mamori.log"
            ) as mport,
            _server(
                bare_env, workers=args.workers, threads=args.threads, log=log_dir / "bare.log"
            ) as bport,
        ):
            sides = {"mamori": (mport, seed["token"]), "bare": (bport, None)}
            for case in CASES:
                loads = {
                    side: Load(
                        port,
                        case,
                        seed,
                        token=token,
                        rng_seed=zlib.crc32(f"{case}/{side}".encode()),
                    )
                    for side, (port, token) in sides.items()
                }
                for side in ("mamori", "bare"):  # warm-up: imports, connections, caches
                    warm = loads[side].run(args.warmup, args.concurrency, args.time_limit)
                    if warm["errors"]:
                        raise RuntimeError(
                            f"[{kind}] {side} {case} warm-up failed: {warm['errors'][:3]}"
                        )
                chunk = max(1, args.requests // args.rounds)
                parts: dict[str, list] = {"mamori": [], "bare": []}
                print(
                    f"[{kind}] {case:6s} {args.rounds} rounds of {chunk} requests per side…",
                    flush=True,
                )
                for side in _abba(args.rounds):
                    parts[side].append(
                        loads[side].run(chunk, args.concurrency, args.time_limit / args.rounds)
                    )
                summary = {side: _summary(parts[side]) for side in parts}
                m, b = summary["mamori"], summary["bare"]
                ratio = round(m["p50_ms"] / b["p50_ms"], 3) if b["p50_ms"] else None
                summary["ratio_p50"] = ratio
                summary["ratio_req_per_s"] = (
                    round(b["req_per_s"] / m["req_per_s"], 3) if m["req_per_s"] else None
                )
                summary["target"] = TARGETS[case]
                summary["meets_target"] = ratio is not None and ratio <= TARGETS[case]
                results["cases"][case] = summary
                print(
                    f"[{kind}] {case:6s} mamori p50 {m['p50_ms']} ms ({m['req_per_s']} req/s), "
                    f"bare p50 {b['p50_ms']} ms ({b['req_per_s']} req/s) → ×{ratio}",
                    flush=True,
                )

        results["loadavg_after"] = _loadavg()
        print(f"[{kind}] probing SQL per request…", flush=True)
        probe_args = ["-m", "bench.probe", "--seed", str(seed_file), "--timing", str(args.timing)]
        if args.profile:
            probe_args += [
                "--profile",
                str(args.profile),
                "--profile-out",
                str(BENCH_DIR / "profiles" / kind),
            ]
            (BENCH_DIR / "profiles").mkdir(exist_ok=True)
        results["probe"] = {
            "mamori": json.loads(_run_python(probe_args, env)),
            "bare": json.loads(_run_python(probe_args, bare_env)),
        }
        results["setup"] = {
            "records": args.records,
            "labels": len(seed["label_ids"]),
            "seed_seconds": round(seed_seconds, 1),
            "requests_per_case": args.requests,
            "warmup_per_case": args.warmup,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "timing": args.timing,
            "server": f"gunicorn gthread, {args.workers} workers × {args.threads} threads",
        }
        results["database"] = _database_version(kind, pg_url)
        return results
    finally:
        if pg_url and not args.keep:
            try:
                _drop_postgres(pg_url)
            except Exception as exc:  # noqa: BLE001 — cleanup must not hide the result
                print(f"[{kind}] could not drop the bench database: {exc}", file=sys.stderr)
        if args.keep:
            print(f"[{kind}] kept {data_dir}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def _database_version(kind: str, url: str | None) -> str:
    if kind == "postgresql" and url:
        return _postgres_version(url).split(" on ")[0]
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"


# --- Report ------------------------------------------------------------------------------------


def _machine() -> dict:
    mem_kib = 0
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("django", "django-ninja", "gunicorn", "psycopg"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001
            versions[dist] = "?"
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
    }


def _fmt(value, unit: str = "") -> str:
    return "—" if value is None else f"{value}{unit}"


def render_markdown(data: dict) -> str:
    lines = [
        "## API: Mamori against bare Django (`api_bench`)",
        "",
        "Targets (issue 2): p50 latency of reads ≤ 1.15 × bare Django; create, with its",
        "audit event, ≤ 1.5 × bare Django. Method: `bench/README.md`.",
        "",
    ]
    for kind in ("sqlite", "postgresql"):
        run = data.get("runs", {}).get(kind)
        if not run:
            continue
        machine = run["machine"]
        setup = run["setup"]
        lines += [
            f"### {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}",
            "",
            f"- date: {run['date']}",
            f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB, "
            f"{machine['os']}",
            f"- Python {machine['python']}, Django {machine['packages']['django']}, "
            f"django-ninja {machine['packages']['django-ninja']}, gunicorn {machine['packages']['gunicorn']}",
            f"- database: {run['database']}",
            f"- server: {setup['server']}, production profile, same for both sides; "
            f"clients: {setup['concurrency']} threads with keep-alive on the same machine",
            f"- data: 1 tenant, 1 workspace, {setup['labels']} labels, {setup['records']} records "
            f"(seeded through the actions in {setup['seed_seconds']} s); "
            f"{setup['requests_per_case']} measured requests per case and side "
            f"in {setup.get('rounds', 2)} alternating rounds (ABBA…) after {setup['warmup_per_case']} "
            "warm-up requests",
            f"- load average (1, 5, 15 min) before / after: {run.get('loadavg_before')} / "
            f"{run.get('loadavg_after')} (other work on the machine inflates both sides)",
            "",
            "| case | side | req/s | p50 ms | p90 ms | p99 ms | errors | SQL/request |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        probe = run.get("probe", {})
        for case in CASES:
            summary = run["cases"][case]
            for side in ("mamori", "bare"):
                s = summary[side]
                queries = probe.get(side, {}).get("cases", {}).get(case, {}).get("queries")
                lines.append(
                    f"| {CASE_TITLES[case] if side == 'mamori' else ''} | {side} | {s['req_per_s']} | "
                    f"{s['p50_ms']} | {s['p90_ms']} | {s['p99_ms']} | {s['errors']} | {_fmt(queries)} |"
                )
        lines += [
            "",
            "| case | Mamori / bare, p50 | bare / Mamori, req/s | target (p50) | met |",
            "|---|---:|---:|---:|:-:|",
        ]
        for case in CASES:
            summary = run["cases"][case]
            lines.append(
                f"| {case} | ×{_fmt(summary['ratio_p50'])} | ×{_fmt(summary['ratio_req_per_s'])} | "
                f"≤ ×{summary['target']} | {'yes' if summary['meets_target'] else '**no**'} |"
            )
        lines.append("")
        timing_m = probe.get("mamori", {}).get("timing_ms")
        timing_b = probe.get("bare", {}).get("timing_ms")
        if timing_m and timing_b:
            lines += [
                "In-process time per request (Django test client, one thread, no network, no "
                "concurrency; median of "
                f"{setup.get('timing', '?')} requests): the CPU cost of each side without queueing.",
                "",
                "| case | Mamori ms | bare ms | Mamori / bare |",
                "|---|---:|---:|---:|",
            ]
            for case in CASES:
                m, b = timing_m[case]["median"], timing_b[case]["median"]
                lines.append(f"| {case} | {m} | {b} | ×{round(m / b, 3) if b else '—'} |")
            lines.append("")
        profile = probe.get("mamori", {}).get("profile")
        if profile:
            lines += [
                "In-process cProfile of Mamori's side (ms per request, cumulative, profiler "
                "overhead included):",
                "",
            ]
            labels = sorted(
                {k for case in profile.values() for k in case["cumulative_ms_per_request"]},
                key=lambda k: (
                    [x[0] for x in _layer_order()].index(k)
                    if k in [x[0] for x in _layer_order()]
                    else 99
                ),
            )
            lines.append("| function | " + " | ".join(CASES) + " |")
            lines.append("|---|" + "---:|" * len(CASES))
            for label in labels:
                row = [_fmt(profile[c]["cumulative_ms_per_request"].get(label)) for c in CASES]
                lines.append(f"| {label.strip()} | " + " | ".join(row) + " |")
            lines.append("")
    notes = BENCH_DIR / "api_bench_findings.md"
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines)


def _layer_order():
    from bench.probe import LAYERS

    return LAYERS


def write_results(kind: str, run: dict) -> None:
    from bench.report import save_markdown_section, save_run_section

    save_markdown_section("api_bench", render_markdown(save_run_section("api_bench", kind, run)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--databases",
        default="auto",
        help="sqlite, postgresql, or both comma-separated; auto = sqlite, plus "
        "postgresql when BENCH_DATABASE_URL/DATABASE_URL is a postgres URL",
    )
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument(
        "--requests", type=int, default=3000, help="measured requests per case and side"
    )
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="alternating rounds per case (ABBA…); requests are split evenly",
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--time-limit", type=float, default=180.0, help="seconds at most per case and side"
    )
    parser.add_argument(
        "--timing",
        type=int,
        default=300,
        help="in-process requests per case and side timed without network or concurrency",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="also cProfile N in-process requests per case (bench/profiles/)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the database")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results files")
    args, _unknown = parser.parse_known_args(argv)

    if args.databases == "auto":
        kinds = ["sqlite"] + (["postgresql"] if _postgres_url() else [])
    else:
        kinds = [
            k.strip().replace("postgres", "postgresql").replace("postgresqlql", "postgresql")
            for k in args.databases.split(",")
            if k.strip()
        ]
    if "postgresql" in kinds and not _postgres_url():
        print("postgresql needs BENCH_DATABASE_URL or DATABASE_URL=postgres://…", file=sys.stderr)
        return 2
    status = 0
    for kind in kinds:
        run = bench_database(kind, args)
        run["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        run["machine"] = _machine()
        if not args.no_write:
            write_results(kind, run)
        print(
            json.dumps(
                {
                    case: {
                        "ratio_p50": run["cases"][case]["ratio_p50"],
                        "meets_target": run["cases"][case]["meets_target"],
                    }
                    for case in CASES
                }
            ),
            flush=True,
        )
        if any(
            run["cases"][c]["mamori"]["errors"] or run["cases"][c]["bare"]["errors"] for c in CASES
        ):
            status = 1
    if not args.no_write:
        print("wrote bench/results.md and bench/results.json")
    return status
