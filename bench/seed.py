"""Seed the benchmark database through Mamori's own actions (run as a subprocess).

One tenant ``bench`` with its admin, one workspace, five labels and N records
(each with one or two labels and a few properties), and a personal API token for
the admin. Every record is created by ``records.actions.create_record``, so the
audit log holds the matching events, as it would in production. Prints one JSON
object on stdout: tenant and user ids, workspace id, label ids, record ids, token.

    DJANGO_SETTINGS_MODULE=mamori.settings python -m bench.seed --records 2000

``bulk_records`` (used inside a worker by ``tenant_export``, ``tenant_purge`` and
``tenant_backup``) is different: it seeds with bulk SQL, not through the actions — no audit
events — so that a million records load in well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, timedelta

LABELS = [
    ("urgent", "#d1242f"),
    ("customer", "#1f6feb"),
    ("internal", "#6b7280"),
    ("review", "#bf8700"),
    ("done", "#1a7f37"),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django

    django.setup()
    from mamori.accounts.actions import create_api_token
    from mamori.audit.events import Actor
    from mamori.records import actions
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    tenant, admin, _secret = create_tenant(
        actor=Actor.system("bench"),
        slug="bench",
        name="Bench 株式会社",
        admin_email="admin@bench.example",
    )
    with tenant_context(tenant):
        actor = Actor.for_user(admin)
        workspace = actions.create_workspace(
            actor=actor, name="Bench workspace", description="Records for the API benchmark."
        )
        labels = [
            actions.create_label(actor=actor, name=name, colour=colour) for name, colour in LABELS
        ]
        record_ids = []
        for i in range(args.records):
            chosen = [labels[i % 5].pk] + ([labels[(i * 7 + 3) % 5].pk] if i % 3 else [])
            record = actions.create_record(
                actor=actor,
                workspace_id=workspace.pk,
                title=f"Record {i:05d} — 見積もり依頼",
                body=("Customer asked for a quote on the annual plan. " * 4).strip(),
                properties={"priority": ("high", "normal", "low")[i % 3], "owner": f"user{i % 17}"},
                classification=("internal", "confidential", "public")[i % 3],
                label_ids=sorted(set(chosen)),
            )
            record_ids.append(record.pk)
        _row, token = create_api_token(actor=actor, user=admin, name="bench", expires_in_days=30)
    # Fresh planner statistics, as autovacuum would gather soon after a bulk load: without
    # them PostgreSQL plans the RLS-filtered queries for an empty table.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    json.dump(
        {
            "tenant_id": tenant.pk,
            "user_id": admin.pk,
            "workspace_id": workspace.pk,
            "label_ids": [label.pk for label in labels],
            "record_ids": record_ids,
            "token": token,
        },
        sys.stdout,
    )
    return 0



# --- bulk seeding for the lifecycle benchmarks (export, purge, per-tenant backup) ----------------

BULK_BODY = ("Quarterly figures, =SUM(A1:A9) and notes — 日本語のメモ. " * 4)[:200]
BULK_CHUNK = 50_000


def bulk_records(tenant, n: int, *, label_every: int = 10, comment_every: int = 100,
                 body: str = BULK_BODY, chunk: int = BULK_CHUNK) -> dict:
    """Seed ``n`` records into ``tenant`` with bulk SQL — **not through the actions** (no audit
    events, no validation): one workspace, one label, ``n`` records (title ``Record <i>``,
    ``body``, JSON properties ``customer`` / ``amount`` / ``line``, a classification), a label
    link on every ``label_every``-th record and a comment on every ``comment_every``-th
    (0: none).

    Every statement runs inside ``tenant_context(tenant)`` — on PostgreSQL as the application
    role with the tenant's RLS setting, so the policies check every inserted row. PostgreSQL
    generates the rows server-side (``INSERT … SELECT … FROM generate_series``); SQLite gets
    them through ``executemany``. Chunks of ``chunk`` records, one transaction each.
    Returns ``{"user_id", "workspace_id", "label_id", "records", "labels", "comments"}``.
    """
    from django.db import connection
    from django.utils import timezone

    from mamori.accounts.models import User
    from mamori.records.models import Label, Record, RecordComment, RecordLabel, Workspace
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        user = User.objects.filter(tenant=tenant).order_by("pk").first()
        workspace = Workspace.objects.create(name="Bench", created_by=user)
        label = Label.objects.create(name="bench")
    record_t, link_t, comment_t = (m._meta.db_table for m in (Record, RecordLabel, RecordComment))
    postgres = connection.vendor == "postgresql"
    counts = {"records": 0, "labels": 0, "comments": 0}
    done = 0
    while done < n:
        size = min(chunk, n - done)
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {record_t}")  # noqa: S608 — model table names
            last_id = cursor.fetchone()[0]
            if postgres:
                cursor.execute(
                    f"INSERT INTO {record_t} (tenant_id, workspace_id, title, body, properties, classification, "  # noqa: S608
                    "created_by_id, created_at, updated_at, review_status) "
                    "SELECT %s, %s, 'Record ' || i, %s, "
                    "jsonb_build_object('customer', 'C-' || (i %% 997), 'amount', (i %% 10000)::text, "
                    "'line', (i %% 17)::text), (ARRAY['internal','confidential','public'])[i %% 3 + 1], %s, "
                    "now() - make_interval(secs => %s::int - i), now() - make_interval(secs => %s::int - i), 'none' "
                    "FROM generate_series(%s::int, %s::int) AS i ORDER BY i",
                    [tenant.pk, workspace.pk, body, user.pk if user else None, n, n, done, done + size - 1])
            else:
                # Django's SQLite text form of an aware time: naive UTC, "YYYY-MM-DD HH:MM:SS.ffffff"
                base = timezone.now().astimezone(UTC).replace(tzinfo=None, microsecond=123456)
                stamps = [str(base - timedelta(seconds=n - i)) for i in range(done, done + size)]
                cursor.executemany(
                    f"INSERT INTO {record_t} (tenant_id, workspace_id, title, body, properties, classification, "  # noqa: S608
                    "created_by_id, created_at, updated_at, review_status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(tenant.pk, workspace.pk, f"Record {i}", body,
                      f'{{"customer": "C-{i % 997}", "amount": "{i % 10000}", "line": "{i % 17}"}}',  # json.dumps
                      ("internal", "confidential", "public")[i % 3], user.pk if user else None,
                      stamps[i - done], stamps[i - done], "none")
                     for i in range(done, done + size)])
            counts["records"] += size
            # id - last_id runs 1..size over this chunk (ids are consecutive within one transaction here)
            if label_every:
                cursor.execute(
                    f"INSERT INTO {link_t} (tenant_id, record_id, label_id) SELECT tenant_id, id, %s "  # noqa: S608
                    f"FROM {record_t} WHERE tenant_id = %s AND id > %s AND (id - %s) %% %s = 0 ORDER BY id",
                    [label.pk, tenant.pk, last_id, last_id, label_every])
                counts["labels"] += cursor.rowcount
            if comment_every:
                now_sql = "now()" if postgres else "%s"
                params = [] if postgres else [connection.ops.adapt_datetimefield_value(timezone.now())]
                cursor.execute(
                    f"INSERT INTO {comment_t} (tenant_id, record_id, author_id, body, review_decision, created_at) "  # noqa: S608
                    f"SELECT tenant_id, id, %s, 'ok', '', {now_sql} FROM {record_t} "
                    "WHERE tenant_id = %s AND id > %s AND (id - %s) %% %s = 0 ORDER BY id",
                    [user.pk if user else None, *params, tenant.pk, last_id, last_id, comment_every])
                counts["comments"] += cursor.rowcount
        done += size
    return {"user_id": user.pk if user else None, "workspace_id": workspace.pk, "label_id": label.pk, **counts}


def analyze() -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL ``ANALYZE``, SQLite ``ANALYZE``)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


if __name__ == "__main__":
    sys.exit(main())
