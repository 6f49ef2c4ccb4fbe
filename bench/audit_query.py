"""Audit query benchmark (issue 5, CLD.12.4.5): filtered search p95 on millions of events.

    .venv/bin/python bench/audit_query.py                         # SQLite only (100k, 1M)
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_siem_bench \\
        .venv/bin/python bench/audit_query.py                     # SQLite, then PostgreSQL
    .venv/bin/python bench/audit_query.py --sqlite-sizes 100000 --pg-budget 60   # quicker

A worker process starts from a fresh database (SQLite in a new temporary
``MAMORI_DATA_DIR``; PostgreSQL: the database named in the URL is **dropped and created
again**, then dropped at the end), migrates, creates one tenant and fills its log with
server-side SQL (a recursive CTE on SQLite, ``INSERT … SELECT generate_series`` on
PostgreSQL) in steps up to each size. Events are spread uniformly over one year, 1,000
actors, six actions; they carry sequence numbers and, on PostgreSQL, hashes of the real
width (64 hex digits) and before/after values of a realistic size, but **not a valid chain**
(the hashes are not computed over the events: a query benchmark never verifies). On
PostgreSQL the table's secondary indexes and unique/foreign-key constraints are dropped
before each fill and created again from their catalogue definitions afterwards (the same
indexes the migrations made; one sorted build instead of millions of random inserts).
PostgreSQL grows until 10 M events or until the generation budget (default 900 s,
index builds included) is spent. At each PostgreSQL size the result also holds the
``EXPLAIN (ANALYZE, BUFFERS)`` of the one-actor-30-days query run as ``search_events`` runs it
(application role, row-level security).

At each size, through ``mamori.audit.queries.search_events`` inside ``tenant_context``
(so row-level security applies on PostgreSQL), as the tenant admin, first page of 50:

- **actor_30d** (the issue's case): one actor, the last 30 days;
- **actor_30d_page3**: the same, third page (keyset cursor);
- **prefix_30d**: action prefix ``record.``, the last 30 days;
- **cidr_7d**: an IP network /24, the last 7 days;
- **text_30d**: free text over labels and action, the last 30 days (no text index).

Each query runs ``--runs`` times (different actors / networks), after warm-up; p50/p95 in ms.
Writes ``bench/results-audit-query.json`` and the "Audit queries" section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results-audit-query.json"
TARGET_MS = 100.0
YEAR_SECONDS = 31_536_000
ACTIONS = [
    "record.created",
    "record.updated",
    "record.deleted",
    "label.updated",
    "auth.login",
    "workspace.updated",
]


# --- worker (runs inside Django) ----------------------------------------------------------------


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if not f.primary_key]


def _expressions(vendor: str, tenant_id: int) -> dict[str, str]:
    """SQL per column for row number ``n`` (uniform over a year, 1,000 actors, 6 actions)."""
    spread = f"((n * 2654435761) % {YEAR_SECONDS})"
    actions = ", ".join(f"'{a}'" for a in ACTIONS)
    if vendor == "postgresql":
        return {
            "tenant_id": str(tenant_id),
            "occurred_at": f"now() - make_interval(secs => {spread})",
            "action": f"(ARRAY[{actions}])[(n % 6) + 1]",
            "actor_type": "'user'",
            "actor_id": "(((n * 7919) % 1000) + 1)::text",
            "actor_label": "'user' || (((n * 7919) % 1000) + 1) || '@bench.example'",
            "target_type": "'records.record'",
            "target_id": "(n % 50000)::text",
            "target_label": "'Record ' || (n % 50000)",
            "before": "CASE WHEN n % 3 = 0 THEN NULL ELSE jsonb_build_object('title', 'Old title ' || n, "
                      "'classification', 'internal') END",
            "after": "jsonb_build_object('title', 'New title ' || n, 'classification', 'confidential')",
            "ip": "('10.' || (n % 200) || '.' || ((n / 200) % 250) || '.' || (n % 7))::inet",
            "user_agent": "'Mozilla/5.0 (X11; Linux x86_64) bench'",
            "request_id": "md5(n::text)",
            "seq": "n",
            # Realistic widths (64 hex digits), not a valid chain: the query benchmark never verifies.
            "prev_hash": "md5((n - 1)::text) || md5((n - 1)::text)",
            "hash": "md5(n::text) || md5(n::text)",
        }
    return {
        "tenant_id": str(tenant_id),
        "occurred_at": f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || {spread} || ' seconds')",
        "action": f"json_extract('[{', '.join(chr(34) + a + chr(34) for a in ACTIONS)}]', '$[' || (n % 6) || ']')",
        "actor_type": "'user'",
        "actor_id": "CAST(((n * 7919) % 1000) + 1 AS TEXT)",
        "actor_label": "'user' || (((n * 7919) % 1000) + 1) || '@bench.example'",
        "target_type": "'records.record'",
        "target_id": "CAST(n % 50000 AS TEXT)",
        "target_label": "'Record ' || (n % 50000)",
        "before": "NULL",
        "after": '\'{"title": "x"}\'',
        "ip": "'10.' || (n % 200) || '.' || ((n / 200) % 250) || '.' || (n % 7)",
        "user_agent": "'bench'",
        "request_id": "''",
        "seq": "n",
        "prev_hash": "''",
        "hash": "''",
    }


def _fill(connection, model, tenant_id: int, first: int, last: int) -> None:
    columns = _columns(model)
    exprs = _expressions(connection.vendor, tenant_id)
    missing = [c for c in columns if c not in exprs]
    if missing:
        raise RuntimeError(f"bench/audit_query.py does not know how to fill columns {missing}")
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    values = ", ".join(exprs[c] for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = values.replace("%", "%%")  # literal % next to psycopg placeholders
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {values} FROM generate_series(%s::bigint, %s::bigint) AS n",
                [first, last],
            )
        else:
            cursor.execute(
                f"WITH RECURSIVE s(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
                f"INSERT INTO {table} ({cols}) SELECT {values} FROM s",
                [first, last],
            )


def _drop_indexes(connection, table: str) -> list[str]:
    """PostgreSQL: drop the table's secondary indexes and its unique and foreign-key constraints
    (not the primary key) before a bulk fill; returns the statements that create them again,
    taken from the catalogue (``pg_get_indexdef`` / ``pg_get_constraintdef``), so the measured
    table has exactly the indexes the migrations made. Building an index once over the filled
    table is many times faster than maintaining it row by row."""
    restore: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
            [table],
        )
        indexes = cursor.fetchall()
        quoted = connection.ops.quote_name(table)
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}")
            restore.append(f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")
        for name, definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
            restore.insert(0, definition)  # indexes first, then the constraints (unique, then FK)
    return restore


def _restore_indexes(connection, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("RESET maintenance_work_mem")


def _explain_actor_30d(admin, tenant) -> list[str]:
    """PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) of the issue's query (one actor, 30 days, first page)
    exactly as ``search_events`` runs it: inside ``tenant_context``, i.e. as the application role
    with row-level security."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from mamori.audit.queries import AuditFilters, clean_filters, filtered_events
    from mamori.tenancy.context import tenant_context

    now = timezone.now()
    filters = clean_filters(AuditFilters(actor="38", since=now - timedelta(days=30), until=now))
    with tenant_context(tenant):
        sql, params = filtered_events(filters)[:51].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_setting('mamori.tenant_id', true)")
            role, tenant_setting = cursor.fetchone()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
    return [f"-- as {role}, mamori.tenant_id = {tenant_setting}"] + plan


def _analyze(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _measure(user, tenant, runs: int) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    from mamori.audit.queries import AuditFilters, search_events
    from mamori.tenancy.context import tenant_context

    now = timezone.now()
    month, week = now - timedelta(days=30), now - timedelta(days=7)

    def cases(i: int) -> dict:
        actor = str((i * 37) % 1000 + 1)
        return {
            "actor_30d": (AuditFilters(actor=actor, since=month, until=now), 0),
            "actor_30d_page3": (AuditFilters(actor=actor, since=month, until=now), 2),
            "prefix_30d": (AuditFilters(action="record.", since=month, until=now), 0),
            "cidr_7d": (AuditFilters(ip=f"10.{i % 200}.0.0/16", since=week, until=now), 0),
            "text_30d": (
                AuditFilters(text=f"Record {(i * 113) % 50000}", since=month, until=now),
                0,
            ),
        }

    timings: dict[str, list[float]] = {name: [] for name in cases(0)}
    rows: dict[str, list[int]] = {name: [] for name in cases(0)}
    for i in range(-5, runs):  # five warm-up rounds
        for name, (filters, pages) in cases(i).items():
            started = time.perf_counter()
            with tenant_context(tenant):
                page = search_events(user, filters)
                for _ in range(pages):
                    if not page.next_cursor:
                        break
                    page = search_events(user, filters, before=page.next_cursor)
            elapsed = (time.perf_counter() - started) * 1000
            if i >= 0:
                timings[name].append(elapsed)
                rows[name].append(len(page.events))
    out = {}
    for name, values in timings.items():
        values.sort()
        out[name] = {
            "p50_ms": round(statistics.median(values), 3),
            "p95_ms": round(values[max(0, int(len(values) * 0.95) - 1)], 3),
            "max_ms": round(values[-1], 3),
            "rows_per_page_median": statistics.median(rows[name]),
        }
    return out


def _worker(args) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from mamori.audit.events import Actor
    from mamori.audit.models import AuditEvent
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    tenant, admin, _secret = create_tenant(
        actor=Actor.system("bench"), slug="bench", name="Bench", admin_email="admin@bench.example"
    )
    with tenant_context(tenant):
        existing = AuditEvent.objects.count()
        base_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    postgres = connection.vendor == "postgresql"
    sizes = args.pg_sizes if postgres else args.sqlite_sizes
    step = 1_000_000 if postgres else 250_000
    budget = args.pg_budget if postgres else 10_000.0
    generated, gen_seconds = 0, 0.0
    results = []
    table = AuditEvent._meta.db_table
    for size in sorted(sizes):
        restore = _drop_indexes(connection, table) if postgres and generated < size else []
        while generated < size and gen_seconds < budget:
            chunk = min(step, size - generated)
            started = time.perf_counter()
            from django.db import transaction

            with transaction.atomic():
                _fill(
                    connection,
                    AuditEvent,
                    tenant.pk,
                    base_seq + generated + 1,
                    base_seq + generated + chunk,
                )
            gen_seconds += time.perf_counter() - started
            generated += chunk
            print(
                f"  {connection.vendor}: {generated:,} events in {gen_seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        started = time.perf_counter()
        if restore:
            _restore_indexes(connection, restore)
        index_s = time.perf_counter() - started
        gen_seconds += index_s
        if results and results[-1]["events"] == generated + existing:
            break  # the budget ran out before this size: nothing new to measure
        started = time.perf_counter()
        _analyze(connection)
        analyze_s = time.perf_counter() - started
        measured = _measure(admin, tenant, args.runs)
        results.append(
            {
                "events": generated + existing,
                "generation_s": round(gen_seconds, 1),
                "generated_per_s": round(generated / gen_seconds) if gen_seconds else None,
                "index_build_s": round(index_s, 1),
                "analyze_s": round(analyze_s, 1),
                "queries": measured,
                **({"explain_actor_30d": _explain_actor_30d(admin, tenant)} if postgres else {}),
            }
        )
        print(
            f"  {connection.vendor} @ {generated:,}: actor_30d p95 {measured['actor_30d']['p95_ms']} ms",
            file=sys.stderr,
            flush=True,
        )
        if gen_seconds >= budget:
            break
    return {"vendor": connection.vendor, "sizes": results, "runs": args.runs}


# --- driver ---------------------------------------------------------------------------------------


def _bench_database(kind: str, args) -> dict:
    from bench.scratch import run_worker

    return run_worker(
        kind, __file__,
        ["--runs", str(args.runs), "--pg-budget", str(args.pg_budget),
         "--sqlite-sizes", *map(str, args.sqlite_sizes), "--pg-sizes", *map(str, args.pg_sizes)],
        name="query", show_stderr=True,
    )



def _md(data: dict) -> str:
    lines = [
        "## Audit queries",
        "",
        "`bench/audit_query.py` (issue 5, CLD.12.4.5). One tenant's log filled with server-side SQL "
        "(uniform over a year, 1,000 actors, 6 actions); `mamori.audit.queries.search_events` inside "
        "`tenant_context` (row-level security on PostgreSQL) as the tenant admin, first page of 50 unless "
        "noted; in-process wall time per call including the ORM. Target: one actor, 30 days, "
        f"p95 ≤ {TARGET_MS:.0f} ms at 10 M events (PostgreSQL) and 1 M (SQLite).",
        "",
        "| database | events | actor 30 d p95 ms | actor 30 d p50 ms | actor 30 d page 3 p95 | "
        "prefix record. 30 d p95 | CIDR /16 7 d p95 | free text 30 d p95 | generation s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for kind in ("sqlite", "postgresql"):
        run = data.get(kind)
        if not run:
            continue
        for size in run["sizes"]:
            q = size["queries"]
            lines.append(
                f"| {kind} | {size['events']:,} | **{q['actor_30d']['p95_ms']}** | {q['actor_30d']['p50_ms']} | "
                f"{q['actor_30d_page3']['p95_ms']} | {q['prefix_30d']['p95_ms']} | {q['cidr_7d']['p95_ms']} | "
                f"{q['text_30d']['p95_ms']} | {size['generation_s']} |"
            )
        notes.append(
            f"- {kind}: {run['database']}, {run['runs']} runs per query and size, {run['when']}."
        )
    lines += ["", *notes, "", "Machine: " + _machine(), ""]
    return "\n".join(lines)


def _machine() -> str:
    cpus = os.cpu_count()
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
        return f"{cpus} CPUs, {mem:.1f} GiB, Python {sys.version.split()[0]}."
    except OSError:
        return f"{cpus} CPUs, Python {sys.version.split()[0]}."


def _write(kind: str, run: dict) -> None:
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    data[kind] = run
    RESULTS_JSON.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    from bench.report import save_markdown_section

    save_markdown_section("audit-query", _md(data))


def _redirect(directory: Path) -> None:
    """--out: results files in ``directory`` (a copy of the committed ones to start from)."""
    global RESULTS_JSON
    from bench import report

    directory.mkdir(parents=True, exist_ok=True)
    for source in (RESULTS_JSON, report.RESULTS_MD):
        target = directory / source.name
        if source.exists() and not target.exists():
            target.write_bytes(source.read_bytes())
    RESULTS_JSON = directory / RESULTS_JSON.name
    report.RESULTS_MD = directory / report.RESULTS_MD.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--sqlite-sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--pg-sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000]
    )
    parser.add_argument(
        "--pg-budget", type=float, default=900.0, help="seconds of event generation on PostgreSQL"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, help="write results-audit-query.json and results.md into this "
                        "directory instead of bench/ (exploratory runs)")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    sys.path.insert(0, str(ROOT))
    if args.out:
        _redirect(args.out)
    from bench.api_bench import _postgres_url

    kinds = [args.only] if args.only else ["sqlite"] + (["postgresql"] if _postgres_url() else [])
    for kind in kinds:
        print(f"audit query bench: {kind}", file=sys.stderr, flush=True)
        run = _bench_database(kind, args)
        _write(kind, run)
        for size in run["sizes"]:
            print(
                f"{kind} {size['events']:,} events: actor 30 d p95 {size['queries']['actor_30d']['p95_ms']} ms",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
