"""CSV user import benchmark (issue 3, 9.2.1): 10,000 users, preview + apply, seconds and peak memory.

    .venv/bin/python bench/users_import.py                        # SQLite only
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_users_bench \\
        .venv/bin/python bench/users_import.py                    # SQLite, then PostgreSQL
    bench/run --only users_import --users 2000                   # quicker

Target (issue 3): preview + apply of 10,000 users in ≤ 20 s and ≤ 300 MB, on either database.

For each database a worker process starts from a fresh database (``bench/scratch.py``: SQLite
in a new temporary ``MAMORI_DATA_DIR``; PostgreSQL: the database named in
``BENCH_DATABASE_URL`` is **dropped and created again**), migrates, creates one tenant with
its admin and a tree of 30 organizational units, then runs two imports as the tenant admin:

1. **create**: a Shift_JIS (cp932) file as Excel writes it, ``--users`` rows, each a new user
   with a Japanese name, a role and one or two units (by code or by path). Preview
   (``csv_users.preview``) and apply (``actions_csv.apply_user_import``: users, memberships,
   hashed invitations, one ``user.invited`` audit event per user sealed into the chain, the
   ``users.imported`` summary, and, after commit, one queued invitation mail per user).
2. **update**: a UTF-8 file (with BOM) changing the name, role and units of every one of them
   (``user.role_changed`` + ``user.updated`` per user, sessions ended).

Measured per import: wall time of the preview and of the apply (including the mails queued
after commit), and peak memory: the growth of the worker's peak resident set (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` before each import) and the process's
overall peak (``ru_maxrss``, Django and everything included). Writes the ``users_import``
key of ``bench/results.json`` and its section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "users_import"
TARGET_SECONDS = 20
TARGET_MIB = 300

SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
GIVEN = ["花子", "太郎", "一郎", "美咲", "翔太", "陽菜", "大輔", "結衣", "健", "さくら"]
ROLES = ["viewer", "editor", "reviewer", "閲覧者", "編集者"]


def _hwm_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _reset_hwm() -> int:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _hwm_kib()


def _csv(rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


# --- worker (runs inside Django) ----------------------------------------------------------------


def _measure(fn):
    baseline = _reset_hwm()
    t0 = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - t0, 2), round((_hwm_kib() - baseline) / 1024, 1)


def _worker(args) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from mamori.access.models import OrgUnit
    from mamori.accounts.actions_csv import apply_user_import
    from mamori.accounts.csv_users import preview
    from mamori.accounts.models import User
    from mamori.audit.events import Actor
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context, use_tenant

    call_command("migrate", verbosity=0)
    with use_tenant(None):
        tenant, admin, _secret = create_tenant(actor=Actor.system("bench"), slug="bench", name="Bench 株式会社",
                                               admin_email="owner@bench.example")
    n = args.users
    with tenant_context(tenant):
        units = []
        for i in range(3):
            top = OrgUnit.objects.create(name=f"本部{i + 1}", code=f"HQ{i + 1}")
            units.append(top.code)
            for j in range(9):
                child = OrgUnit.objects.create(name=f"課{j + 1}", parent=top, code=f"HQ{i + 1}-{j + 1}" if j % 2 else "")
                units.append(child.code or f"本部{i + 1}/課{j + 1}")
        admin = User.objects.get(pk=admin.pk)
    actor = Actor.for_user(admin)

    header = ["メールアドレス", "氏名", "ロール", "組織", "言語", "操作"]
    create_rows = [header] + [
        [f"user{i:05d}@bench.example", f"{SURNAMES[i % 10]} {GIVEN[(i // 10) % 10]}", ROLES[i % len(ROLES)],
         ";".join(sorted({units[i % len(units)], units[(i * 7) % len(units)]})), "ja" if i % 3 else "", ""]
        for i in range(n)
    ]
    update_rows = [["email", "name", "role", "units", "language", "action"]] + [
        [f"user{i:05d}@bench.example", f"{GIVEN[i % 10]} {SURNAMES[(i // 10) % 10]}", "reviewer" if i % 2 else "editor",
         units[(i * 3) % len(units)], "en", "update"]
        for i in range(n)
    ]
    files = {"create": _csv(create_rows, "cp932"), "update": _csv(update_rows, "utf-8-sig")}
    del create_rows, update_rows

    runs = {}
    for kind, data in files.items():
        with tenant_context(tenant):
            result, preview_s, preview_mib = _measure(lambda data=data: preview(actor_user=admin, data=data))
            assert result.ok, [str(e.message) for e in result.errors[:5]]
            counts = result.counts
            del result
        with tenant_context(tenant):
            outcome, apply_s, apply_mib = _measure(lambda data=data: apply_user_import(actor=actor, data=data))
        runs[kind] = {
            "rows": n, "file_kib": round(len(data) / 1024), "encoding": outcome.preview.encoding,
            "counts": {k: v for k, v in counts.items() if v},
            "preview_s": preview_s, "apply_s": apply_s, "total_s": round(preview_s + apply_s, 2),
            "preview_rss_growth_mib": preview_mib, "apply_rss_growth_mib": apply_mib,
        }
        del outcome
    with tenant_context(tenant):
        from django_tasks_db.models import DBTaskResult

        from mamori.audit.models import AuditEvent

        users = User.objects.count()
        events = AuditEvent.objects.count()
    with use_tenant(None):
        queued = DBTaskResult.objects.count()
    return {
        "users": n, "runs": runs, "users_in_tenant": users, "audit_events": events, "queued_mails": queued,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# --- driver ----------------------------------------------------------------------------------------


def _md(data: dict) -> str:
    lines = [
        "## CSV user import (`users_import`)",
        "",
        "`bench/users_import.py` (issue 3, 9.2.1). One tenant with 30 organizational units; as its admin, "
        "import a Shift_JIS file creating N users (invitations, memberships, one sealed `user.invited` event "
        "each, invitation mails queued after commit), then a UTF-8 file changing the name, role and units of "
        "each of them. Preview = decode + parse + check every row (writes nothing); apply = check again + "
        "write everything in one transaction. Memory: growth of the worker's peak RSS during each step "
        "(VmHWM reset before it) and the worker's overall peak RSS (Django, both files and everything "
        f"included). Target: preview + apply ≤ {TARGET_SECONDS} s and ≤ {TARGET_MIB} MB.",
        "",
    ]
    machine = data.get("machine", {})
    if machine:
        lines += [f"Machine: {machine.get('nproc')} CPUs, {machine.get('memory_gib')} GiB, {machine.get('cpu')}, "
                  f"Python {machine.get('python')}.", ""]
    lines += [
        "| database | import | rows | preview s | apply s | preview + apply s | preview RSS growth MiB | "
        "apply RSS growth MiB | worker peak RSS MiB | met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for kind, run in data.get("runs", {}).items():
        for name, r in run["runs"].items():
            met = r["total_s"] <= TARGET_SECONDS and run["max_rss_mib"] <= TARGET_MIB
            lines.append(
                f"| {kind} | {name} ({r['encoding']}) | {r['rows']:,} | {r['preview_s']} | {r['apply_s']} | "
                f"{r['total_s']} | {r['preview_rss_growth_mib']} | {r['apply_rss_growth_mib']} | {run['max_rss_mib']} | "
                f"{'yes' if met else '**no**'} |")
    lines.append("")
    for kind, run in data.get("runs", {}).items():
        lines.append(f"- {kind}: {run['database']}, run {run['when']}; afterwards {run['users_in_tenant']:,} users, "
                     f"{run['audit_events']:,} audit events, {run['queued_mails']:,} mails queued.")
    return "\n".join(lines) + "\n"


def _write(kind: str, run: dict) -> None:
    from bench.api_bench import _machine
    from bench.report import save_markdown_section, save_run_section

    save_markdown_section(NAME, _md(save_run_section(NAME, kind, run, machine=_machine())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=10_000, help="rows of each import file")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args, _rest = parser.parse_known_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.api_bench import _postgres_url
    from bench.scratch import run_worker

    status = 0
    for kind in args.databases.split(","):
        if kind == "postgresql" and not _postgres_url():
            print("PostgreSQL skipped: set BENCH_DATABASE_URL", file=sys.stderr)
            continue
        print(f"users import benchmark on {kind} ({args.users:,} users)…", file=sys.stderr)
        run = run_worker(kind, __file__, ["--users", str(args.users)], name="users-import")
        _write(kind, run)
        print(json.dumps({kind: run}, indent=2, ensure_ascii=False), file=sys.stderr)
        if any(r["total_s"] > TARGET_SECONDS for r in run["runs"].values()) or run["max_rss_mib"] > TARGET_MIB:
            print(f"users import on {kind}: target missed (≤ {TARGET_SECONDS} s, ≤ {TARGET_MIB} MB)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
