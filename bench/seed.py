"""Seed the benchmark database through Mamori's own actions (run as a subprocess).

One tenant ``bench`` with its admin, one workspace, five labels and N records
(each with one or two labels and a few properties), and a personal API token for
the admin. Every record is created by ``records.actions.create_record``, so the
audit log holds the matching events, as it would in production. Prints one JSON
object on stdout: tenant and user ids, workspace id, label ids, record ids, token.

    DJANGO_SETTINGS_MODULE=mamori.settings python -m bench.seed --records 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sys

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


if __name__ == "__main__":
    sys.exit(main())
