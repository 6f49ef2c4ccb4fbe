"""Seed the load-test database through Mamori's own actions (run as a subprocess by bench/load.py).

``--tenants`` tenants ``load-000`` … each with its tenant admin, an editor with a known
password (the console sign-ins), a personal API token for each, one workspace and
``--records`` records (each ``record.created`` event is in the tenant's audit chain, as in
production). Prints one JSON document: ``{"tenants": [{slug, token, email, password,
workspace_id, record_ids}, …]}``.

    DJANGO_SETTINGS_MODULE=mamori.settings python -m bench.load_seed --tenants 100 --records 20
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--records", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from mamori.accounts.actions import create_api_token, create_user, set_password
    from mamori.audit.events import Actor
    from mamori.records import actions
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    out = []
    for n in range(args.tenants):
        slug = f"load-{n:03d}"
        password = f"load test {secrets.token_hex(8)} passphrase"
        with transaction.atomic():
            tenant, admin, _secret = create_tenant(actor=Actor.system("load seed"), slug=slug,
                                                   name=f"Load {n:03d} 株式会社", admin_email=f"admin@{slug}.example",
                                                   language="en")
            with tenant_context(tenant):
                by_admin = Actor.for_user(admin)
                editor = create_user(actor=by_admin, email=f"editor@{slug}.example", name="Editor",
                                     role="editor")
                set_password(actor=by_admin, user=editor, password=password)
                workspace = actions.create_workspace(actor=by_admin, name="Load workspace")
                actions.add_workspace_member(actor=by_admin, workspace_id=workspace.pk, user_id=editor.pk)
                record_ids = [
                    actions.create_record(actor=by_admin, workspace_id=workspace.pk,
                                          title=f"Quote {i:04d} 見積もり", body="Annual plan quote request. " * 6,
                                          properties={"n": i, "owner": f"user{i % 7}"}).pk
                    for i in range(args.records)
                ]
                _row, token = create_api_token(actor=by_admin, user=admin, name="load", expires_in_days=2)
        out.append({"slug": slug, "token": token, "email": editor.email, "password": password,
                    "workspace_id": workspace.pk, "record_ids": record_ids})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    json.dump({"tenants": out}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
