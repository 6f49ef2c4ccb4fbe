"""Shared pieces of the termination, purge and certificate tests."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from mamori.audit.events import Actor
from mamori.lifecycle import keys
from mamori.lifecycle.purge import purge_tables
from mamori.lifecycle.walk import tenant_storage_prefix
from mamori.tenancy.context import tenant_context, use_tenant


def make_tenant_data(tenant, admin, *, records: int = 5, files: int = 3) -> None:
    """Workspaces, labels, records with comments and labels, an API token, encrypted values and
    files under the tenant's storage prefix (as attachments and exports would leave them)."""
    from mamori.accounts.actions import create_api_token
    from mamori.records.actions import (
        comment_on_record,
        create_label,
        create_record,
        create_workspace,
    )

    actor = Actor.for_user(admin)
    with use_tenant(tenant), transaction.atomic():
        workspace = create_workspace(actor=actor, name="Contracts")
        label = create_label(actor=actor, name="Confidential")
        for i in range(records):
            record = create_record(actor=actor, workspace_id=workspace.pk, title=f"Record {i}", body="秘密" * 3,
                                   label_ids=[label.pk])
            comment_on_record(actor=actor, record_id=record.pk, body=f"comment {i}")
        create_api_token(actor=actor, user=admin, name="purge test")
        keys.encrypt_for_tenant(tenant.pk, b"secret value", purpose="test")
    for i in range(files):
        default_storage.save(f"{tenant_storage_prefix(tenant.pk)}attachments/{i}/file{i}.bin",
                             ContentFile(b"encrypted bytes %d" % i))


def table_counts(tenant) -> dict[str, int]:
    """Rows of ``tenant`` in every table the purge empties (read inside its tenant context)."""
    with use_tenant(None), tenant_context(tenant):
        return {t.label: t.rows(tenant.pk).count() for t in purge_tables()}


def files_of(tenant) -> list[str]:
    from mamori.lifecycle.purge import walk_files

    return list(walk_files(tenant_storage_prefix(tenant.pk)))


def deliver() -> int:
    """Run the queued mail tasks (what ``mamori worker`` does) into Django's mail backend."""
    from django_tasks_db.models import DBTaskResult

    from mamori.core.tasks import send_mail_task

    sent = 0
    for task in DBTaskResult.objects.filter(task_path="mamori.core.tasks.send_mail_task").order_by("pk"):
        sent += send_mail_task.call(**task.args_kwargs["kwargs"])
        task.delete()
    return sent
