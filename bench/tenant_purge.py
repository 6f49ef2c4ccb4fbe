"""Tenant purge benchmark (issue 6, item 4): duration, and another tenant's API latency meanwhile.

    .venv/bin/python bench/tenant_purge.py                          # 1,000,000 records, SQLite
    .venv/bin/python bench/tenant_purge.py --records 100000         # quicker
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_tenant_purge_bench \\
        .venv/bin/python bench/tenant_purge.py --databases sqlite,postgresql

For each database a worker process starts from a fresh scratch database (``bench/scratch.py``),
creates two tenants — "bench" with ``--records`` records (every tenth labelled, one comment per
hundred) and "other" with 1,000 records, **seeded with bulk SQL, not through the actions**
(``bench.seed.bulk_records``: a million records in about a minute) — and starts the production web server
(``bench/server.py``: gunicorn, 1 worker × 4 threads). A separate client process sends
sequential ``GET /api/v1/records?limit=20`` requests with an API token of "other":

1. **baseline**: ``--seconds`` of requests with nothing else running → p50/p99;
2. **during the purge**: the contract of "bench" is terminated and ``purge_tenant`` runs (batches
   of ``MAMORI_PURGE_BATCH_SIZE`` rows, each its own transaction) while the client keeps sending
   requests → purge duration, rows/s, p50/p99 of the other tenant's requests. Target: p99 during
   the purge ≤ 2 × the baseline p99.

Writes the ``tenant_purge`` key of ``bench/results.json`` and the "Tenant purge" section of
``bench/results.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# --- client process ---------------------------------------------------------------------------

def _client(args) -> int:
    """Sequential requests until ``--seconds`` passed or the stop file exists; latencies to --out."""
    stop = Path(args.stop) if args.stop else None
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    headers = {"Authorization": f"Bearer {args.token}", "Accept": "application/json"}
    latencies, errors = [], 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and not (stop and stop.exists()):
        t0 = time.perf_counter()
        try:
            conn.request("GET", "/api/v1/records?limit=20", headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            ok = False
        elapsed = (time.perf_counter() - t0) * 1000
        if ok:
            latencies.append(elapsed)
        else:
            errors += 1
        time.sleep(0.01)  # a steady, light load (about 50–80 requests/s)
    Path(args.out).write_text(json.dumps({"latencies_ms": latencies, "errors": errors}))
    return 0


def _summary(path: Path) -> dict:
    data = json.loads(path.read_text())
    lat = data["latencies_ms"]
    return {"requests": len(lat), "errors": data["errors"], "p50_ms": round(_percentile(lat, 0.50), 1),
            "p99_ms": round(_percentile(lat, 0.99), 1), "max_ms": round(max(lat or [0]), 1)}


# --- worker process ---------------------------------------------------------------------------

def _worker(args) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench.api_bench import _server
    from bench.seed import analyze, bulk_records
    from mamori.access.roles import Role
    from mamori.accounts.actions import create_api_token
    from mamori.accounts.models import User
    from mamori.audit.events import Actor
    from mamori.lifecycle.actions_termination import terminate_tenant
    from mamori.lifecycle.purge import purge_tenant
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context, use_tenant

    call_command("migrate", verbosity=0)
    if args.batch_size:
        settings.MAMORI_PURGE_BATCH_SIZE = args.batch_size
    if args.pause_ms is not None:
        settings.MAMORI_PURGE_PAUSE_MS = args.pause_ms
    actor = Actor.system("bench")
    with use_tenant(None):
        tenant = create_tenant(actor=actor, slug="bench", name="Bench", admin_email="owner@bench.example")[0]
        other = create_tenant(actor=actor, slug="other", name="Other", admin_email="owner@other.example")[0]
    t0 = time.perf_counter()
    bulk_records(tenant, args.records)
    bulk_records(other, 1000)
    analyze()
    out: dict = {"records": args.records, "load_seconds": round(time.perf_counter() - t0, 1)}
    with use_tenant(None), tenant_context(other):
        admin = User.objects.get(role=Role.TENANT_ADMIN)
        _row, token = create_api_token(actor=Actor.system("bench"), user=admin, name="bench", issued_by_cli=True)
    work = Path(os.environ["MAMORI_DATA_DIR"])
    env = dict(os.environ)
    # One token sends every request of the other tenant: a per-token limit above the client's rate
    # (MAMORI_API_RATE_LIMIT, default 1200/60), so no request is refused with 429.
    env["MAMORI_API_RATE_LIMIT"] = "1000000/60"

    def client(seconds: float, name: str, stop: Path | None = None) -> subprocess.Popen:
        cmd = [sys.executable, __file__, "--client", "--port", str(port), "--token", token,
               "--seconds", str(seconds), "--out", str(work / f"{name}.json")]
        if stop:
            cmd += ["--stop", str(stop)]
        return subprocess.Popen(cmd, env=env, cwd=ROOT)  # noqa: S603

    with _server(env, workers=1, threads=4, log=work / "server.log") as port:
        client(3, "warmup").wait()
        client(args.seconds, "baseline").wait()
        out["baseline"] = _summary(work / "baseline.json")
        stop = work / "stop"
        during = client(3600, "during", stop)
        time.sleep(1.0)
        with use_tenant(None):
            terminate_tenant(actor=actor, tenant=tenant, grace_days=0)
            t0 = time.perf_counter()
            cert = purge_tenant(tenant, actor=actor, force=True)
            seconds = time.perf_counter() - t0
        stop.write_text("stop")
        during.wait()
        out["purge"] = {"seconds": round(seconds, 1), "rows": cert.rows_deleted,
                        "rows_per_s": round(cert.rows_deleted / seconds) if seconds else 0,
                        "batch_size": settings.MAMORI_PURGE_BATCH_SIZE, "pause_ms": settings.MAMORI_PURGE_PAUSE_MS}
        out["during"] = _summary(work / "during.json")
    base, dur = out["baseline"]["p99_ms"], out["during"]["p99_ms"]
    out["p99_ratio"] = round(dur / base, 2) if base else None
    with use_tenant(None), tenant_context(other):
        from mamori.records.models import Record

        out["other_records_after"] = Record.objects.count()
    return out


def _md(data: dict) -> str:
    lines = [
        "## Tenant purge",
        "",
        "`bench/tenant_purge.py` (issue 6, item 4). One tenant with N records (every tenth labelled, one "
        "comment per hundred; seeded with bulk SQL, not through the actions) is terminated and purged: every row of every tenant table in batches "
        "(one transaction each, inside the tenant's context), its files, its backups, then its data "
        "keys, ending with the signed deletion certificate. Meanwhile a client sends sequential "
        "`GET /api/v1/records?limit=20` requests as another tenant to the production server "
        "(gunicorn, 1 worker × 4 threads). Target: p99 during the purge ≤ 2 × p99 without it.",
        "",
        "| database | records | rows deleted | batch / pause ms | purge s | rows/s | baseline p50 / p99 ms "
        "| during purge p50 / p99 ms | p99 ratio | requests during | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, run in data.get("runs", {}).items():
        p, b, d = run["purge"], run["baseline"], run["during"]
        lines.append(f"| {kind} | {run['records']:,} | {p['rows']:,} | {p['batch_size']} / {p.get('pause_ms', 0)} | "
                     f"{p['seconds']} | {p['rows_per_s']:,} | "
                     f"{b['p50_ms']} / {b['p99_ms']} | {d['p50_ms']} / {d['p99_ms']} | {run['p99_ratio']} | "
                     f"{d['requests']:,} | {d['errors']} |")
    lines += ["", "The purge, the server and the client share the machine's 2 CPUs; other work on the machine "
              "inflates both p99 figures. `bench/run` runs 20,000 records; `--records 1000000` is the full size.", ""]
    for kind, run in data.get("runs", {}).items():
        lines.append(f"- {kind}: {run.get('database', '')}, run {run.get('when', '')}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    parser.add_argument("--stop", default="", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the purged tenant")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the baseline measurement")
    parser.add_argument("--databases", default="sqlite", help="sqlite,postgresql")
    parser.add_argument("--batch-size", type=int, default=0, help="MAMORI_PURGE_BATCH_SIZE (default: the setting)")
    parser.add_argument("--pause-ms", type=int, default=None, help="MAMORI_PURGE_PAUSE_MS (default: the setting)")
    args = parser.parse_args(argv)
    if args.client:
        return _client(args)
    sys.path.insert(0, str(ROOT))
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    from bench.api_bench import _postgres_url
    from bench.report import save_markdown_section, save_run_section
    from bench.scratch import run_worker

    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"tenant purge benchmark on {kind} ({args.records:,} records)…", file=sys.stderr)
        extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
        extra += ["--pause-ms", str(args.pause_ms)] if args.pause_ms is not None else []
        run = run_worker(kind, __file__, ["--records", str(args.records), "--seconds", str(args.seconds), *extra],
                         name="tenant-purge")
        data = save_run_section("tenant_purge", kind, run)
        save_markdown_section("tenant-purge", _md(data))
        print(json.dumps({kind: run}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
