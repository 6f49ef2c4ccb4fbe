"""Audit chain benchmark (issue 5): sealing rate, verification rate, audited write vs django-auditlog.

    .venv/bin/python bench/audit_chain.py                       # SQLite only
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_chain_bench \\
        .venv/bin/python bench/audit_chain.py                   # SQLite, then PostgreSQL
    .venv/bin/python bench/audit_chain.py --single 2000 --batched 20000   # quicker

For each database, a worker process (settings ``bench.auditlog_settings`` = Mamori's
settings plus the ``auditlog`` app) starts from a fresh database (SQLite in a new
temporary ``MAMORI_DATA_DIR``; PostgreSQL: the database named in the URL is **dropped and
created again**), migrates, creates one tenant through ``create_tenant`` and then measures:

1. **Audited write**: ``records.actions.create_record`` (permission checks, validation,
   INSERT, the chained audit event), each in its own ``tenant_context`` transaction, against
   the same action with Mamori's ``record_event`` switched off and django-auditlog registered
   on ``Record`` (its ``post_save`` signal writes a ``LogEntry`` with the changes), and the
   same action with no audit at all (for scale). Rounds in ABBA order.
2. **Sealing**: ``record_event`` (a ``record.updated`` event with before/after) in one
   transaction per event, then 100 calls per transaction, then ``record_events`` (the bulk
   writer: one head lock and one INSERT per 2,000 events) with 100 and 1,000 events per
   transaction.
3. **Verification**: ``mamori.audit.verify.verify_tenant_chain`` over the whole chain
   (streams the needed columns on a server-side cursor, no model instances, inside
   ``tenant_context`` so RLS applies), and the pure ``verify_rows`` (the same loop: decoding
   before/after, canonical text, hash) over rows already fetched into memory (CPU cost only).

Every rate is given per second of wall time, of worker CPU and of worker plus PostgreSQL
backend CPU. ``--out DIR`` writes the results files into ``DIR`` instead of ``bench/``
(exploratory runs on a busy machine).

Writes ``bench/results-audit.json`` (merged per database) and the "Audit chain" section of
``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results-audit.json"
TARGETS = {"sealed_batched_pg": 20_000, "verify": 100_000}


# --- worker (runs inside Django) ----------------------------------------------------------------


def _worker(args) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import auditlog
    from auditlog.models import LogEntry
    from django.db import connection

    from mamori.audit import chain as chain_module
    from mamori.audit.events import Actor, record_event, record_events
    from mamori.audit.models import AuditEvent
    from mamori.audit.verify import stream_rows, verify_tenant_chain
    from mamori.records import actions as record_actions
    from mamori.records.models import Record
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    def server_cpu() -> float:
        """CPU seconds the PostgreSQL backend of this connection used so far (0 on SQLite)."""
        if connection.vendor != "postgresql":
            return 0.0
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def measure(fn, events: int) -> dict:
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu()
        out = fn()
        wall, cpu, srv = time.perf_counter() - t0, time.process_time() - c0, server_cpu() - s0
        figures = {"events": events, "seconds": round(wall, 2), "per_s": round(events / wall, 1),
                   "cpu_s": round(cpu, 2), "cpu_per_s": round(events / cpu, 1) if cpu else None,
                   "server_cpu_s": round(srv, 2),
                   "cpu_with_server_per_s": round(events / (cpu + srv), 1) if cpu + srv else None}
        return figures if out is None else (figures, out)

    tenant, admin, _secret = create_tenant(
        actor=Actor.system("bench"), slug="bench", name="Bench", admin_email="admin@bench.example"
    )
    actor = Actor.for_user(admin)
    with tenant_context(tenant):
        workspace = record_actions.create_workspace(actor=actor, name="Bench")
    result: dict = {}

    # 1. Audited write: Mamori's chained event vs django-auditlog vs none, ABBA.
    real_record_event = record_actions.record_event

    def no_event(*a, **k):
        return None

    def write(n: int, label: str) -> list[float]:
        times = []
        for i in range(n):
            t0 = time.perf_counter()
            with tenant_context(tenant):
                record_actions.create_record(
                    actor=actor,
                    workspace_id=workspace.pk,
                    title=f"{label} {i}",
                    body="Body text " * 20,
                    properties={"customer": "Acme", "n": i},
                )
            times.append(time.perf_counter() - t0)
        return times

    def variant(name: str):
        record_actions.record_event = real_record_event if name == "mamori" else no_event
        if name == "auditlog":
            auditlog.registry.auditlog.register(Record)
        else:
            auditlog.registry.auditlog.unregister(Record)

    samples: dict[str, list[float]] = {"mamori": [], "auditlog": [], "none": []}
    write(50, "warm-up")
    order = []
    for i in range(args.rounds):
        order += ["mamori", "auditlog", "none"] if i % 2 == 0 else ["none", "auditlog", "mamori"]
    for name in order:
        variant(name)
        samples[name] += write(args.writes // args.rounds, name)
    variant("mamori")
    with tenant_context(tenant):
        logentries = LogEntry.objects.count()
    writes = {}
    for name, values in samples.items():
        writes[name] = {
            "n": len(values),
            "median_ms": round(statistics.median(values) * 1000, 3),
            "mean_ms": round(statistics.fmean(values) * 1000, 3),
            "p95_ms": round(sorted(values)[int(len(values) * 0.95) - 1] * 1000, 3),
            "per_s": round(len(values) / sum(values), 1),
        }
    writes["auditlog"]["log_entries"] = logentries
    writes["mamori_over_auditlog"] = round(
        writes["mamori"]["median_ms"] / writes["auditlog"]["median_ms"], 3
    )
    result["audited_write"] = writes

    # 2. Sealing through record_event.
    def one(i: int):
        record_event(
            "record.updated",
            actor=actor,
            target=("records.record", i, f"Record {i}"),
            before={"title": f"old title {i}", "classification": "internal"},
            after={"title": f"new title {i}", "classification": "confidential"},
        )

    def run_single():
        for i in range(args.single):
            with tenant_context(tenant):
                one(i)

    def run_batched():
        for b in range(args.batched // 100):
            with tenant_context(tenant):
                for j in range(100):
                    one(b * 100 + j)

    def run_bulk(size: int, total: int):
        def run():
            for b in range(total // size):
                with tenant_context(tenant):
                    record_events(
                        "record.updated",
                        actor=actor,
                        items=[
                            {
                                "target": ("records.record", i, f"Record {i}"),
                                "before": {"title": f"old title {i}", "classification": "internal"},
                                "after": {"title": f"new title {i}", "classification": "confidential"},
                            }
                            for i in range(b * size, b * size + size)
                        ],
                    )
        return run

    result["sealing"] = {
        "single": measure(run_single, args.single),
        "batched_100": measure(run_batched, args.batched),
        "bulk_100": measure(run_bulk(100, args.bulk), args.bulk),
        "bulk_1000": measure(run_bulk(1000, args.bulk), args.bulk),
    }

    # 3. Verification.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures, report = measure(lambda: verify_tenant_chain(tenant), 0)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert report.ok, report.describe()
    n = report.count
    with tenant_context(tenant):
        rows, decode = stream_rows(AuditEvent.objects.order_by("seq"))
        rows = list(rows)
    t1, c1 = time.perf_counter(), time.process_time()
    pure = chain_module.verify_rows(rows, f"tenant:{tenant.pk}", **decode)
    pure_elapsed, pure_cpu = time.perf_counter() - t1, time.process_time() - c1
    assert pure.ok
    result["verify"] = {
        "events": n,
        "seconds": figures["seconds"],
        "per_s": round(n / figures["seconds"], 1) if figures["seconds"] else None,
        "cpu_s": figures["cpu_s"],
        "cpu_per_s": round(n / figures["cpu_s"], 1) if figures["cpu_s"] else None,
        "server_cpu_s": figures["server_cpu_s"],
        "cpu_with_server_per_s": round(n / (figures["cpu_s"] + figures["server_cpu_s"]), 1)
        if figures["cpu_s"] + figures["server_cpu_s"] else None,
        "max_rss_growth_mib": round((rss_after - rss_before) / 1024, 1),
        "pure_per_s": round(pure.count / pure_elapsed, 1),
        "pure_cpu_per_s": round(pure.count / pure_cpu, 1) if pure_cpu else None,
    }
    result["loadavg_during"] = list(os.getloadavg())
    return result


# --- driver ----------------------------------------------------------------------------------------


def _bench_database(kind: str, args) -> dict:
    from bench.scratch import run_worker

    run = run_worker(
        kind, __file__,
        ["--single", str(args.single), "--batched", str(args.batched), "--bulk", str(args.bulk),
         "--writes", str(args.writes), "--rounds", str(args.rounds)],
        name="audit", settings="bench.auditlog_settings",
    )
    run["loadavg_after"] = list(os.getloadavg())
    return run



def _md(data: dict) -> str:
    lines = [
        "## Audit chain",
        "",
        "`bench/audit_chain.py` (issue 5). Sealing: `record_event` writes the event with its sequence "
        "number and hash under the chain-head lock. Verify: `verify_tenant_chain` streams the chain "
        "from the database inside `tenant_context`. Audited write: `records.actions.create_record` "
        "in its own transaction, Mamori's chained event vs the same action with django-auditlog "
        "registered on `Record` (and Mamori's event off) vs no audit (median of ABBA rounds).",
        "",
    ]
    machine = data.get("machine", {})
    if machine:
        lines += [
            f"Machine: {machine.get('nproc')} CPUs, {machine.get('memory_gib')} GiB, {machine.get('cpu')}, "
            f"Python {machine.get('python')}.",
            "",
        ]
    lines += [
        "Rates are events per second of wall time, then (in brackets) per second of CPU time of the "
        "worker process (`time.process_time`), then per second of worker CPU plus the PostgreSQL "
        "backend's CPU (from `/proc/<backend pid>/stat`). When other jobs share the 2 CPUs (see "
        "each run's load average) wall-time rates understate an idle machine; the CPU rates depend "
        "less on the load.",
        "",
        "| database | record_event, 1 tx each | record_event ×100 per tx | record_events 100 per tx | "
        "record_events 1000 per tx | verify (DB stream) | verify (pure) | RSS growth MiB | events verified |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def rate(f: dict) -> str:
        text = f"{f['per_s']:,.0f}"
        if f.get("cpu_per_s"):
            text += f" ({f['cpu_per_s']:,.0f} CPU"
            if f.get("server_cpu_s"):
                text += f"; {f['cpu_with_server_per_s']:,.0f} with server"
            text += ")"
        return text

    for kind, run in data.get("runs", {}).items():
        s, v = run["sealing"], run["verify"]
        bulk_1000 = rate(s["bulk_1000"]) if "bulk_1000" in s else "–"
        pure = f"{v['pure_per_s']:,.0f}" + (f" ({v['pure_cpu_per_s']:,.0f} CPU)" if v.get("pure_cpu_per_s") else "")
        lines.append(
            f"| {kind} | {rate(s['single'])} | {rate(s['batched_100'])} | {rate(s['bulk_100'])} | "
            f"{bulk_1000} | {rate(v)} | {pure} | {v['max_rss_growth_mib']} | {v['events']:,} |"
        )
    lines += [
        "",
        "| database | Mamori write ms (median) | django-auditlog ms | no audit ms | Mamori / auditlog |"
        " target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for kind, run in data.get("runs", {}).items():
        w = run["audited_write"]
        met = "yes" if w["mamori_over_auditlog"] <= 1.0 else "**no**"
        lines.append(
            f"| {kind} | {w['mamori']['median_ms']} | {w['auditlog']['median_ms']} | "
            f"{w['none']['median_ms']} | ×{w['mamori_over_auditlog']} | ≤ ×1.0: {met} |"
        )
    pg = data.get("runs", {}).get("postgresql")
    verdict = []
    if pg:
        keys = [k for k in ("batched_100", "bulk_100", "bulk_1000") if k in pg["sealing"]]
        best = max(pg["sealing"][k]["per_s"] for k in keys)
        best_cpu = max(pg["sealing"][k].get("cpu_with_server_per_s") or 0 for k in keys)
        verdict.append(
            f"sealing on PostgreSQL {best:,.0f}/s wall: {'met' if best >= 20_000 else '**not met**'}"
            f" ({best_cpu:,.0f}/s of worker + server CPU)"
        )
    fastest = max((r["verify"]["per_s"] for r in data.get("runs", {}).values()), default=0)
    fastest_cpu = max((r["verify"].get("cpu_per_s") or 0 for r in data.get("runs", {}).values()), default=0)
    verdict.append(f"verify {fastest:,.0f}/s wall: {'met' if fastest >= 100_000 else '**not met**'}"
                   f" ({fastest_cpu:,.0f}/s of worker CPU)")
    lines += [
        "",
        "Targets: ≥ 20,000 events/s sealed on PostgreSQL (batched), verify ≥ 100,000 events/s, "
        "audited write no slower than with django-auditlog. In these runs: "
        + "; ".join(verdict)
        + ".",
        "",
    ]
    for kind, run in data.get("runs", {}).items():
        load = run.get("loadavg_during") or run.get("loadavg_after")
        lines.append(
            f"- {kind}: {run['database'].split(' on ')[0]}, run {run['when']}"
            + (
                f", load average at the end of the worker {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
                if load
                else ""
            )
            + (f" Note: {run['note']}" if run.get("note") else "")
            + "."
        )
    return "\n".join(lines) + "\n"


def _write(kind: str | None, run: dict | None) -> None:
    """Merge ``run`` into results-audit.json (``kind`` None: only re-render results.md)."""
    from bench.api_bench import _machine
    from bench.report import load_runs, save_markdown_section, save_run_file

    if kind is None:
        data = load_runs(RESULTS_JSON)
    else:
        data = save_run_file(RESULTS_JSON, kind, run, machine=_machine())
    save_markdown_section("audit-chain", _md(data))


def _redirect(directory: Path) -> None:
    """--out: results files in ``directory`` (a copy of the committed ones to start from)."""
    global RESULTS_JSON
    from bench import report

    directory.mkdir(parents=True, exist_ok=True)
    for source, name in ((RESULTS_JSON, "RESULTS_JSON"), (report.RESULTS_MD, "RESULTS_MD")):
        target = directory / source.name
        if source.exists() and not target.exists():
            target.write_bytes(source.read_bytes())
        if name == "RESULTS_JSON":
            RESULTS_JSON = target
        else:
            report.RESULTS_MD = target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--single", type=int, default=10_000, help="events sealed one per transaction"
    )
    parser.add_argument(
        "--batched",
        type=int,
        default=100_000,
        help="events sealed by record_event, 100 per transaction",
    )
    parser.add_argument(
        "--bulk",
        type=int,
        default=200_000,
        help="events sealed by record_events, 100 per call and transaction",
    )
    parser.add_argument("--writes", type=int, default=3_000, help="audited writes per variant")
    parser.add_argument("--rounds", type=int, default=6, help="ABBA rounds for the audited write")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, help="write results-audit.json and results.md into this directory "
                        "instead of bench/ (exploratory runs)")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the Audit chain section of results.md from results-audit.json",
    )
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    if args.out:
        _redirect(args.out)
    if args.render:
        _write(None, None)
        return 0
    from bench.api_bench import _postgres_url

    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"audit chain benchmark on {kind}…", file=sys.stderr)
        run = _bench_database(kind, args)
        _write(kind, run)
        print(json.dumps({kind: run}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
