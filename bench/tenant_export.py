"""Full tenant export benchmark (issue 6, item 3): rows/s and peak memory at 1,000,000 records.

    .venv/bin/python bench/tenant_export.py                            # SQLite, 1,000,000 records
    .venv/bin/python bench/tenant_export.py --records 200000           # quicker
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_export_bench \\
        .venv/bin/python bench/tenant_export.py --databases sqlite,postgresql

Targets (issue 6): at least 50,000 rows/s and at most 300 MB peak memory.

For each database a worker process starts from a fresh database (SQLite in a new temporary
``MAMORI_DATA_DIR``; PostgreSQL: the database named in ``BENCH_DATABASE_URL`` — only that
variable, never ``DATABASE_URL`` — is **dropped and created again**), migrates, creates one
tenant with one workspace and ``--records`` records (title, a body of ~200 characters with a
formula-looking cell and Japanese text, JSON properties, timestamps; a label on every tenth,
a comment on every hundredth) — **seeded with bulk SQL, not through the actions**
(``bench.seed.bulk_records``, chunks of 50,000) — then runs
``mamori.lifecycle.export.build_export`` — every table of the tenant to CSV + JSON lines in
one ZIP with a signed manifest, stored in the default storage — and measures:

* wall time and rows/s (all rows of all tables, the records being almost all of them);
* the growth of the worker's peak resident memory during the export (Linux ``VmHWM``,
  reset through ``/proc/self/clear_refs`` just before), and the peak RSS of the whole
  worker process including the data load (``getrusage``);
* the ZIP's size, and that ``verify_archive`` accepts it.

Writes ``bench/results-tenant-export.json`` (merged per database) and the "Full tenant export"
section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results-tenant-export.json"
TARGET_ROWS_PER_S = 50_000
TARGET_RSS_MB = 300


def _hwm_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _rss_kib() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _reset_hwm() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _hwm_kib()


# --- worker (runs inside Django) ----------------------------------------------------------------


def _worker(args) -> dict:
    import django

    django.setup()
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    from bench.seed import analyze, bulk_records
    from mamori.accounts.models import User
    from mamori.audit.events import Actor
    from mamori.lifecycle.actions_export import request_tenant_export
    from mamori.lifecycle.export import build_export, verify_archive
    from mamori.lifecycle.models import TenantExport
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context, use_tenant

    call_command("migrate", verbosity=0)
    with use_tenant(None):
        tenant, admin, _secret = create_tenant(actor=Actor.system("bench"), slug="bench", name="Bench",
                                               admin_email="owner@bench.example")
    n = args.records
    t0 = time.perf_counter()
    seeded = bulk_records(tenant, n)
    analyze()
    load_s = time.perf_counter() - t0

    with tenant_context(tenant):
        admin = User.objects.get(pk=admin.pk)
        export = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    rss_before_kib = _rss_kib()
    baseline = _reset_hwm()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, cpu0 = time.perf_counter(), time.process_time()
    build_export(export.pk, tenant)
    export_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    hwm_kib = _hwm_kib()
    with tenant_context(tenant):
        export = TenantExport.objects.get(pk=export.pk)
    assert export.status == TenantExport.Status.COMPLETED, export.error
    t0 = time.perf_counter()
    problems = verify_archive(default_storage.path(export.file_path))
    verify_s = time.perf_counter() - t0
    assert problems == [], problems
    return {
        "records": n,
        "rows": export.rows_done,
        "tables": export.table_count,
        "seeded": {"labels": seeded["labels"], "comments": seeded["comments"]},
        "load": {"seconds": round(load_s, 1), "per_s": round(n / load_s)},
        "export": {
            "seconds": round(export_s, 1),
            "rows_per_s": round(export.rows_done / export_s),
            "cpu_seconds": round(cpu_s, 1),
            "rows_per_cpu_s": round(export.rows_done / cpu_s),
            "rss_before_mib": round(rss_before_kib / 1024, 1),
            "peak_rss_mib": round(hwm_kib / 1024, 1),
            "rss_growth_mib": round((hwm_kib - baseline) / 1024, 1),
            "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "zip_mib": round(export.file_size / 2**20, 1),
        },
        "verify": {"seconds": round(verify_s, 1)},
    }


# --- driver ----------------------------------------------------------------------------------------


def _md(data: dict) -> str:
    lines = [
        "## Full tenant export",
        "",
        "`bench/tenant_export.py` (issue 6, item 3). One tenant with N records (~200-character body, JSON "
        "properties; a label on every tenth, a comment on every hundredth; seeded with bulk SQL, not through "
        "the actions); `build_export` writes every table of the tenant as CSV + JSON lines into one ZIP "
        "(keyset batches of 5,000 rows, deflate level 1), signs the manifest and stores the ZIP. "
        f"Targets: ≥ {TARGET_ROWS_PER_S:,} rows/s, ≤ {TARGET_RSS_MB} MB peak memory. Peak RSS: the worker's "
        "VmHWM during the export (reset just before; includes Django and the loaded app, "
        "≈ the RSS before the export) and its growth over the RSS before.",
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
        "| database | records | rows | export s | rows/s | CPU s | rows per CPU s | peak RSS MiB | RSS growth MiB "
        "| ZIP MiB | verify s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, run in data.get("runs", {}).items():
        e = run["export"]
        lines.append(
            f"| {kind} | {run['records']:,} | {run['rows']:,} | {e['seconds']} | {e['rows_per_s']:,} | "
            f"{e['cpu_seconds']} | {e['rows_per_cpu_s']:,} | {e['peak_rss_mib']} | {e['rss_growth_mib']} | "
            f"{e['zip_mib']} | {run['verify']['seconds']} |"
        )
    lines.append("")
    for kind, run in data.get("runs", {}).items():
        e = run["export"]
        speed = "met" if e["rows_per_s"] >= TARGET_ROWS_PER_S else "not met"
        memory = "met" if e["peak_rss_mib"] * 1.048576 <= TARGET_RSS_MB else "not met"
        lines.append(f"- {kind}: {run['database'].split(' on ')[0]}, run {run['when']}, "
                     f"{run['records']:,} records (loaded at {run['load']['per_s']:,}/s). "
                     f"Rate target {speed}; memory target {memory}.")
    lines += ["", "Wall-clock rates fall when other jobs share the 2 CPUs (the results file records each run's "
              "date; compare with the machine's load at that time); rows per CPU second (the export process's "
              "own CPU time; the database server's on PostgreSQL is not included) depends less on that.", ""]
    return "\n".join(lines) + "\n"


def _write(kind: str, run: dict) -> None:
    from bench.api_bench import _machine
    from bench.report import save_markdown_section, save_run_file

    save_markdown_section("tenant-export", _md(save_run_file(RESULTS_JSON, kind, run, machine=_machine())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the tenant (default 1,000,000)")
    parser.add_argument("--databases", default="sqlite", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--profile", default="", help="write a cProfile of build_export to this path (.prof)")
    parser.add_argument("--no-save", action="store_true",
                        help="print the figures only; do not write the results files (quick runs while iterating)")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _postgres_url
    from bench.scratch import run_worker

    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"tenant export benchmark on {kind} ({args.records:,} records)…", file=sys.stderr)
        extra = ["--profile", str(Path(args.profile).resolve()) + f".{kind}"] if args.profile else []
        run = run_worker(kind, __file__, ["--records", str(args.records), *extra], name="tenant-export")
        if not args.no_save:
            _write(kind, run)
        print(json.dumps({kind: run}, indent=2), file=sys.stderr)
        e = run["export"]
        ok = e["rows_per_s"] >= TARGET_ROWS_PER_S and e["peak_rss_mib"] * 1.048576 <= TARGET_RSS_MB
        print(f"{kind}: {e['rows_per_s']:,} rows/s, peak RSS {e['peak_rss_mib']} MiB — "
              f"{'targets met' if ok else 'TARGET MISSED'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
