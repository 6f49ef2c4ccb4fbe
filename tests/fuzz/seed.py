"""Seed the fuzzing database: run as ``python -m tests.fuzz.seed`` with the server's environment.

Two tenants are created through the real actions (so the audit log is written as in
production):

- ``acme`` — the tenant the fuzzer works in. One tenant admin (the only admin, so the
  last-admin guard keeps the fuzzer's own user usable) with the fuzzing token and a spare
  token, plus an editor, a viewer and one object of every kind.
- ``globex`` — the victim of the cross-tenant run: one object of every kind the API has an
  id for. Its ids are printed so the test can send them with acme's token.

Prints one JSON document on stdout.
"""

from __future__ import annotations

import io
import json
import os
from datetime import timedelta

import django


def _ids(tenant_slug: str, *, with_secrets: bool) -> dict:
    from django.utils import timezone

    from mamori.access.actions import add_unit_member, create_unit
    from mamori.accounts.actions import create_api_token, create_user
    from mamori.accounts.models import User
    from mamori.audit.events import Actor
    from mamori.audit.models import AuditEvent
    from mamori.evidence.actions import request_export
    from mamori.lifecycle.actions_export import request_tenant_export
    from mamori.records import actions
    from mamori.records.actions_attachments import upload_attachment
    from mamori.scim.actions import create_scim_token
    from mamori.siem.actions import create_subscription
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    tenant, admin, _secret = create_tenant(
        actor=Actor.system("fuzz-seed"), slug=tenant_slug, name=tenant_slug.title(),
        admin_email=f"admin@{tenant_slug}.example", language="en")
    with tenant_context(tenant):
        by_admin = Actor.for_user(admin)
        editor = create_user(actor=by_admin, email=f"editor@{tenant_slug}.example", name="Editor",
                             role="editor")
        viewer = create_user(actor=by_admin, email=f"viewer@{tenant_slug}.example", name="Viewer",
                             role="viewer")
        token, raw = create_api_token(actor=by_admin, user=admin, name="fuzz")
        spare, _spare_raw = create_api_token(actor=by_admin, user=admin, name="spare")
        workspace = actions.create_workspace(actor=by_admin, name=f"{tenant_slug} workspace",
                                             description=f"{tenant_slug} plans")
        actions.add_workspace_member(actor=by_admin, workspace_id=workspace.pk, user_id=editor.pk)
        label = actions.create_label(actor=by_admin, name=f"{tenant_slug}-label", colour="#1f6feb")
        record = actions.create_record(actor=by_admin, workspace_id=workspace.pk,
                                       title=f"{tenant_slug} record", body=f"{tenant_slug} body",
                                       properties={"owner": tenant_slug}, label_ids=[label.pk])
        actions.comment_on_record(actor=by_admin, record_id=record.pk, body=f"{tenant_slug} comment")
        attachment = upload_attachment(actor=by_admin, record_id=record.pk,
                                       file=io.BytesIO(b"%PDF-1.4\n%fuzz\n1 0 obj<<>>endobj\n%%EOF\n"),
                                       filename="fuzz.pdf")
        unit = create_unit(actor=by_admin, name=f"{tenant_slug} unit")
        add_unit_member(actor=by_admin, unit_id=unit.pk, user_id=viewer.pk)
        subscription, _secret = create_subscription(actor=by_admin, url="http://127.0.0.1:9/hook")
        scim_token, _scim_raw = create_scim_token(actor=by_admin, name="idp")
        now = timezone.now()
        export = request_export(actor=by_admin, since=now - timedelta(days=1), until=now)
        tenant_export = request_tenant_export(actor=by_admin, enqueue=False)
        event = AuditEvent.objects.order_by("-pk").first()
        assert User.objects.filter(role="tenant_admin").count() == 1
        ids = {
            "tenant_id": tenant.pk,
            "admin_id": admin.pk, "editor_id": editor.pk, "viewer_id": viewer.pk,
            "token_id": token.pk, "spare_token_id": spare.pk,
            "workspace_id": workspace.pk, "label_id": label.pk, "record_id": record.pk,
            "attachment_id": attachment.pk, "unit_id": unit.pk, "subscription_id": subscription.pk,
            "scim_token_id": scim_token.pk, "export_id": export.pk, "event_id": event.pk,
            "tenant_export_id": tenant_export.pk,
        }
    if with_secrets:
        ids["token"] = raw
    return ids


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    django.setup()
    from django.db import transaction

    with transaction.atomic():
        acme = _ids("acme", with_secrets=True)
        globex = _ids("globex", with_secrets=True)
    print(json.dumps({"acme": acme, "globex": globex}))


if __name__ == "__main__":
    main()
