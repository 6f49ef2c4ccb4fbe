"""System backup benchmark (issue 6, 12.3.1): backup, verify, restore and drill durations.

    .venv/bin/python bench/system_backup.py                       # SQLite, 200,000 audit events
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_backup_bench \\
        .venv/bin/python bench/system_backup.py                   # SQLite, then PostgreSQL
    .venv/bin/python bench/system_backup.py --events 1000000      # the scaled dataset

For each database a worker process starts from a fresh database (``bench/scratch.py``:
SQLite in a new ``MAMORI_DATA_DIR``; PostgreSQL: the database named in
``BENCH_DATABASE_URL`` is dropped and created again), migrates, creates the demo tenant and
appends ``--events`` sealed audit events (``tests/evidence/factory.py``; the largest table of a
real installation), then measures with ``mamori.lifecycle``:

1. ``create_backup``: snapshot + encryption (wall time, MiB/s of plaintext, peak RSS growth);
2. ``verify_backup``: SHA-256 + full decryption;
3. ``restore_backup`` into a scratch target (a new SQLite file / a new PostgreSQL database);
4. ``run_drill``: verify + restore + row counts + migrations + audit chain verification.

Writes the ``system-backup`` key of ``bench/results.json`` and its section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _hwm_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _reset_hwm() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _hwm_kib()


def _worker(args) -> dict:
    import os

    os.environ.setdefault("MAMORI_BACKUP_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from mamori.audit.events import Actor
    from mamori.lifecycle import backup_engines as engines
    from mamori.lifecycle.backup import create_backup, verify_backup
    from mamori.lifecycle.backup_jobs import run_backup
    from mamori.lifecycle.backup_restore import resolve_target, restore_backup, run_drill
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import use_tenant
    from tests.evidence.factory import bulk_events

    call_command("migrate", verbosity=0)
    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("bench"), slug="bench", name="Bench",
                                                admin_email="owner@bench.example")
    t0 = time.perf_counter()
    bulk_events(tenant, args.events, start=timezone.now() - timedelta(days=30), step=timedelta(seconds=2),
                batch=10_000, actions=("record.created", "record.updated", "auth.login"))
    load_s = time.perf_counter() - t0

    baseline = _reset_hwm()
    t0 = time.perf_counter()
    backup = create_backup()
    create_s = time.perf_counter() - t0
    growth = _hwm_kib() - baseline
    t0 = time.perf_counter()
    verify_backup(backup)
    verify_s = time.perf_counter() - t0
    target_name = "mamori_bench_restore" if engines.engine_of() == "postgresql" else str(
        Path(settings.DATA_DIR) / "restored.sqlite3")
    t0 = time.perf_counter()
    restore_backup(backup, resolve_target(backup, target_name), force=True)
    restore_s = time.perf_counter() - t0
    if engines.engine_of() == "postgresql":
        engines.pg_drop_database(target_name)
    run_backup(actor=Actor.system("bench"))  # the drill restores the newest backup
    t0 = time.perf_counter()
    drill = run_drill(actor=Actor.system("bench"))
    drill_s = time.perf_counter() - t0
    assert drill.result == "passed", (drill.error, drill.checks)
    mib = backup.manifest["plaintext"]["size"] / 2**20
    return {
        "events": args.events, "rows": backup.manifest["rows"],
        "load_seconds": round(load_s, 1),
        "plaintext_mib": round(mib, 1), "encrypted_mib": round(backup.manifest["encrypted"]["size"] / 2**20, 1),
        "create_seconds": round(create_s, 2), "create_mib_per_s": round(mib / create_s, 1),
        "create_rss_growth_mib": round(growth / 1024, 1),
        "verify_seconds": round(verify_s, 2), "restore_seconds": round(restore_s, 2),
        "drill_seconds": round(drill_s, 2), "drill_restore_seconds": drill.figures.get("restore_seconds"),
        "drill_audit_seconds": drill.figures.get("audit_seconds"),
    }


def _md(data: dict) -> str:
    lines = [
        "## System backup",
        "",
        "`bench/system_backup.py` (issue 6, 12.3.1). A fresh database with one tenant and N sealed audit "
        "events (the largest table of a real installation). Create = consistent snapshot (SQLite online "
        "backup API / `pg_dump -Fc`) + AES-256-GCM in 1 MiB chunks + manifest; verify = SHA-256 + full "
        "decryption; restore = verify + decrypt + `integrity_check` / `pg_restore --single-transaction` + "
        "row counts; drill = verify + restore into a scratch database + row counts + migrations + audit "
        "chain verification. RSS growth: the worker's peak resident memory during create (VmHWM reset).",
        "",
        "| database | events | rows | plaintext MiB | create s | create MiB/s | create RSS growth MiB | "
        "verify s | restore s | drill s (restore / audit) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in data.items():
        lines.append(
            f"| {kind} | {r['events']:,} | {r['rows']:,} | {r['plaintext_mib']} | {r['create_seconds']} | "
            f"{r['create_mib_per_s']} | {r['create_rss_growth_mib']} | {r['verify_seconds']} | "
            f"{r['restore_seconds']} | {r['drill_seconds']} ({r['drill_restore_seconds']} / "
            f"{r['drill_audit_seconds']}) |")
    lines += ["", "Measured on a shared 2-CPU machine while other test suites ran, so durations are upper "
              "bounds. " + " ".join(f"{k}: {r['database']}, {r['when']}." for k, r in data.items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=200_000, help="audit events in the database")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _postgres_url
    from bench.report import load_json, save_json_section, save_markdown_section
    from bench.scratch import run_worker

    data = load_json().get("system-backup", {})
    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"system backup benchmark on {kind} ({args.events:,} events)…", file=sys.stderr)
        data[kind] = run_worker(kind, __file__, ["--events", str(args.events)], name="backup")
        save_json_section("system-backup", data)
        save_markdown_section("system-backup", _md(data))
        print(json.dumps({kind: data[kind]}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
