"""Per-tenant backup and restore benchmark (issue 6, item 6): duration of each at N records.

    .venv/bin/python bench/tenant_backup.py                            # 1,000,000 records, SQLite
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_tenant_backup_bench \\
        .venv/bin/python bench/tenant_backup.py --databases sqlite,postgresql
    .venv/bin/python bench/tenant_backup.py --records 100000           # quicker

For each database a worker process starts from a fresh database (``bench/scratch.py``: SQLite in
a new temporary ``MAMORI_DATA_DIR``; PostgreSQL: the database named in ``BENCH_DATABASE_URL`` is
**dropped and created again**), migrates, creates two tenants (the second, with 1,000 records,
only has to stay untouched), loads ``--records`` records into the first (one workspace, every
tenth record with a label, so foreign keys must be remapped; one comment per hundred) —
**seeded with bulk SQL, not through the actions** (``bench.seed.bulk_records``) — and then
measures:

1. **backup**: ``tenant_backup_jobs.take_backup`` — every table read inside the tenant's
   context, JSON lines, AES-256-GCM chunks with the tenant's data key, stored in the default
   storage; wall time, rows/s, file size, growth of the peak RSS;
2. **restore as new**: ``restore_tenant_backup(mode="as_new")`` — full authentication pass,
   then every row inserted with new keys and remapped foreign keys, in one transaction;
3. **restore in place**: ``restore_tenant_backup(mode="in_place")`` — the tenant's rows
   deleted and the backup's inserted with their original keys, in one transaction.

Writes the ``tenant_backup`` key of ``bench/results.json`` and the "Per-tenant backup" section of
``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _hwm_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _reset_hwm() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _hwm_kib()


def _worker(args) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from bench.seed import analyze, bulk_records
    from mamori.audit.events import Actor
    from mamori.lifecycle.actions_tenant_backup import restore_tenant_backup
    from mamori.lifecycle.tenant_backup_jobs import take_backup
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import use_tenant

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    with use_tenant(None):
        tenant = create_tenant(actor=actor, slug="bench", name="Bench", admin_email="owner@bench.example")[0]
        other = create_tenant(actor=actor, slug="other", name="Other", admin_email="owner@other.example")[0]
    t0 = time.perf_counter()
    bulk_records(tenant, args.records)
    bulk_records(other, 1000)
    analyze()
    load_s = time.perf_counter() - t0

    out: dict = {"records": args.records, "load_seconds": round(load_s, 1)}
    baseline = _reset_hwm()
    t0 = time.perf_counter()
    with use_tenant(None):
        backup = take_backup(tenant, actor=actor)
    seconds = time.perf_counter() - t0
    out["backup"] = {"seconds": round(seconds, 1), "rows": backup.row_count,
                     "rows_per_s": round(backup.row_count / seconds), "file_mib": round(backup.size / 2**20, 1),
                     "rss_growth_mib": round((_hwm_kib() - baseline) / 1024, 1)}
    for mode, kwargs in (("as_new", {"new_slug": "bench-copy"}), ("in_place", {"confirmed": True})):
        baseline = _reset_hwm()
        t0 = time.perf_counter()
        with use_tenant(None):
            _target, result = restore_tenant_backup(actor=actor, backup=backup, mode=mode, **kwargs)
        seconds = time.perf_counter() - t0
        rows = sum(result.restored.values())
        out[f"restore_{mode}"] = {"seconds": round(seconds, 1), "rows": rows, "rows_per_s": round(rows / seconds),
                                  "rss_growth_mib": round((_hwm_kib() - baseline) / 1024, 1)}
    return out


def _md(data: dict) -> str:
    lines = [
        "## Per-tenant backup and restore",
        "",
        "`bench/tenant_backup.py` (issue 6, item 6). One tenant with N records (every tenth with a label, "
        "one comment per hundred; seeded with bulk SQL, not through the actions) "
        "and a second tenant that must stay untouched. Backup: every table of the tenant as JSON lines, "
        "encrypted with the tenant's data key (AES-256-GCM, 1 MiB chunks), into the default storage. "
        "Restore as new: authentication pass over the whole file, then every row with new keys and "
        "remapped foreign keys, one transaction. Restore in place: the tenant's rows deleted and the "
        "backup's inserted with their original keys, one transaction. Memory: growth of the peak RSS.",
        "",
        "| database | records | rows | backup s | backup rows/s | file MiB | backup RSS MiB | "
        "restore as new s | restore in place s | restore RSS MiB (as new) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, run in data.get("runs", {}).items():
        b, n, p = run["backup"], run["restore_as_new"], run["restore_in_place"]
        lines.append(f"| {run.get('kind', kind)} | {run['records']:,} | {b['rows']:,} | {b['seconds']} | {b['rows_per_s']:,} | "
                     f"{b['file_mib']} | {b['rss_growth_mib']} | {n['seconds']} | {p['seconds']} | "
                     f"{n['rss_growth_mib']} |")
    lines += ["", "Each row is dated below; a run that shared the 2 CPUs with other work gives upper bounds.",
              ""]
    for kind, run in data.get("runs", {}).items():
        lines.append(f"- {run.get('kind', kind)}, {run['records']:,} records: {run.get('database', '').split(' on ')[0]}, "
                     f"run {run.get('when', '')}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the backed-up tenant")
    parser.add_argument("--databases", default="sqlite")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _postgres_url
    from bench.report import save_markdown_section, save_run_section
    from bench.scratch import run_worker

    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"tenant backup benchmark on {kind} ({args.records:,} records)…", file=sys.stderr)
        run = run_worker(kind, __file__, ["--records", str(args.records)], name="tenant-backup")
        run["kind"] = kind
        data = save_run_section("tenant_backup", f"{kind} {args.records}", run)  # one row per database and size
        save_markdown_section("tenant-backup", _md(data))
        print(json.dumps({kind: run}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
