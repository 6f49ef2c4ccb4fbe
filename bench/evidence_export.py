"""Evidence export benchmark (issue 5, 16.1.7): export rate and peak memory at 1,000,000 events.

    .venv/bin/python bench/evidence_export.py                          # SQLite only
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_evidence_bench \\
        .venv/bin/python bench/evidence_export.py                      # SQLite, then PostgreSQL
    .venv/bin/python bench/evidence_export.py --events 100000          # quicker

For each database a worker process starts from a fresh database (SQLite in a new temporary
``MAMORI_DATA_DIR``; PostgreSQL: the database named in ``BENCH_DATABASE_URL`` — only that
variable, never ``DATABASE_URL`` — is **dropped and created again**), migrates, creates one
tenant, appends ``--events`` sealed events to its chain in batches of pre-hashed rows
(``tests/evidence/factory.py``: the same payload and hash the writer computes), then:

1. runs ``mamori.evidence.export.build_package`` for a range covering every event: the
   events are read in keyset batches of 2,000 (one short ``tenant_context`` transaction each),
   written to ``events.jsonl`` / ``events.csv``, zipped and stored in the default storage;
   measured: wall time, events/s, and the growth of the process's peak resident memory
   (Linux ``VmHWM`` reset through ``/proc/self/clear_refs`` just before the export);
2. runs the package's own ``verify_evidence.py`` on the ZIP as a separate process (offline
   verification rate, and its peak RSS from ``getrusage``).

Writes ``bench/results-evidence.json`` (merged per database) and the "Evidence export"
section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results-evidence.json"


def _hwm_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _reset_hwm() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _hwm_kib()


# --- worker (runs inside Django) ----------------------------------------------------------------


def _worker(args) -> dict:
    import django

    django.setup()
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.utils import timezone

    from mamori.audit.events import Actor
    from mamori.evidence.export import build_package
    from mamori.evidence.models import EvidenceExport
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context, use_tenant
    from tests.evidence.factory import bulk_events

    call_command("migrate", verbosity=0)
    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(
            actor=Actor.system("bench"),
            slug="bench",
            name="Bench",
            admin_email="owner@bench.example",
        )
    n = args.events
    start = timezone.now() - timedelta(days=30)
    t0 = time.perf_counter()
    bulk_events(
        tenant,
        n,
        start=start,
        step=timedelta(seconds=2),
        batch=10_000,
        actions=("record.created", "record.updated", "auth.login"),
    )
    load_s = time.perf_counter() - t0

    with tenant_context(tenant):
        export = EvidenceExport.objects.create(
            since=start - timedelta(days=1), until=timezone.now()
        )
    baseline = _reset_hwm()
    t0 = time.perf_counter()
    build_package(export.pk, tenant)
    export_s = time.perf_counter() - t0
    growth_kib = _hwm_kib() - baseline
    with tenant_context(tenant):
        export.refresh_from_db()
    assert export.status == EvidenceExport.Status.COMPLETED, export.error

    zip_path = Path(default_storage.path(export.file_path))
    t0 = time.perf_counter()
    verify = subprocess.run(  # noqa: S603 — our own verifier on our own file
        # ru_maxrss survives exec on Linux (it would report this worker's peak), so the child
        # resets its own VmHWM first and reports it at the end.
        [
            sys.executable,
            "-c",
            "import re, runpy, sys; sys.argv = sys.argv[1:]\n"
            "open('/proc/self/clear_refs', 'w').write('5')\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit:\n"
            "    hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "    print('RSS', hwm, file=sys.stderr)\n"
            "    raise",
            str(ROOT / "mamori" / "evidence" / "verify_evidence.py"),
            str(zip_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ.get("PATH", "")},
    )
    verify_s = time.perf_counter() - t0
    if verify.returncode != 0:
        raise RuntimeError(verify.stdout + verify.stderr)
    verify_rss = int(re.search(r"RSS (\d+)", verify.stderr).group(1))
    return {
        "events": export.event_count,
        "load": {"seconds": round(load_s, 1), "per_s": round(n / load_s)},
        "export": {
            "seconds": round(export_s, 1),
            "per_s": round(export.event_count / export_s),
            "rss_growth_mib": round(growth_kib / 1024, 1),
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "zip_mib": round(export.file_size / 2**20, 1),
        },
        "verify": {
            "seconds": round(verify_s, 1),
            "per_s": round(export.event_count / verify_s),
            "max_rss_mib": round(verify_rss / 1024, 1),
        },
    }


# --- driver ----------------------------------------------------------------------------------------


def _bench_database(kind: str, args) -> dict:
    from bench.scratch import run_worker

    return run_worker(kind, __file__, ["--events", str(args.events)], name="evidence")



def _md(data: dict) -> str:
    lines = [
        "## Evidence export",
        "",
        "`bench/evidence_export.py` (issue 5, 16.1.7). One tenant chain of pre-hashed events; "
        "`build_package` exports all of them (keyset batches of 2,000 → `events.jsonl` + `events.csv` "
        "→ ZIP → default storage). Memory: growth of the worker's peak RSS during the export "
        "(VmHWM reset just before). Offline verify: the package's `verify_evidence.py` on the ZIP, "
        "as a separate process.",
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
        "| database | events | export s | export events/s | export peak RSS growth MiB | ZIP MiB | "
        "offline verify events/s | verifier peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, run in data.get("runs", {}).items():
        e, v = run["export"], run["verify"]
        lines.append(
            f"| {kind} | {run['events']:,} | {e['seconds']} | {e['per_s']:,} | {e['rss_growth_mib']} | "
            f"{e['zip_mib']} | {v['per_s']:,} | {v['max_rss_mib'] if v.get('max_rss_mib') is not None else 'n/a'} |"
        )
    lines += [
        "",
        "Measured on a shared 2-CPU machine while other benchmarks and test suites ran "
        "(load average 8–14), so the rates are lower bounds; the memory figures are not affected.",
        "",
    ]
    for kind, run in data.get("runs", {}).items():
        lines.append(
            f"- {kind}: {run['database'].split(' on ')[0]}, run {run['when']}, "
            f"{run['events']:,} events (loaded at {run['load']['per_s']:,}/s)."
            + (f" {run['verify']['note']}." if run["verify"].get("note") else "")
        )
    return "\n".join(lines) + "\n"


def _write(kind: str, run: dict) -> None:
    from bench.api_bench import _machine
    from bench.report import save_markdown_section, save_run_file

    save_markdown_section("evidence-export", _md(save_run_file(RESULTS_JSON, kind, run, machine=_machine())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events in the chain and the export"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _postgres_url

    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"evidence export benchmark on {kind} ({args.events:,} events)…", file=sys.stderr)
        run = _bench_database(kind, args)
        _write(kind, run)
        print(json.dumps({kind: run}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
