"""Seed a fault-test database through Mamori's own actions (``python -m tests.faults.seed``).

Run with the server's environment. Creates ``--tenants`` tenants ``fault-0`` … each with its
admin, a personal API token, one workspace and ``--records`` records (so the audit log holds
one ``record.created`` event per record, as in production). ``--files`` puts that many files
under each tenant's storage prefix (what attachments leave there). Prints one JSON document:
``{"tenants": [{"slug", "tenant_id", "token", "workspace_id"}, …]}``.
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1)
    parser.add_argument("--records", type=int, default=0)
    parser.add_argument("--files", type=int, default=0)
    parser.add_argument("--prefix", default="fault")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction

    from mamori.accounts.actions import create_api_token
    from mamori.audit.events import Actor
    from mamori.lifecycle.walk import tenant_storage_prefix
    from mamori.records import actions
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    out = []
    for n in range(args.tenants):
        slug = f"{args.prefix}-{n}"
        with transaction.atomic():
            tenant, admin, _secret = create_tenant(actor=Actor.system("fault seed"), slug=slug,
                                                   name=f"Fault {n}", admin_email=f"admin@{slug}.example",
                                                   language="en")
            with tenant_context(tenant):
                actor = Actor.for_user(admin)
                workspace = actions.create_workspace(actor=actor, name="Faults")
                for i in range(args.records):
                    actions.create_record(actor=actor, workspace_id=workspace.pk, title=f"Seeded {i}",
                                          body="Seeded body text for the fault tests. " * 8,
                                          properties={"n": i})
                _row, token = create_api_token(actor=actor, user=admin, name="faults")
        for i in range(args.files):
            default_storage.save(f"{tenant_storage_prefix(tenant.pk)}attachments/{i}/seed{i}.bin",
                                 ContentFile(os.urandom(2048)))
        out.append({"slug": slug, "tenant_id": tenant.pk, "token": token, "workspace_id": workspace.pk})
    print(json.dumps({"tenants": out}))


if __name__ == "__main__":
    main()
