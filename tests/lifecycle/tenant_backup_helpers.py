"""Helpers for the per-tenant backup tests: a populated tenant and table snapshots to compare."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import contextmanager

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.lifecycle import keys
from mamori.lifecycle import tenant_backup as tb
from mamori.tenancy.context import tenant_context, use_tenant

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def populate(tenant, admin, editor, *, records: int = 5, tag: str = "") -> dict:
    """Users, workspace, records with labels and comments, a unit tree, MFA, SSO with a secret and
    break-glass admins, a webhook with an encrypted secret, an API token and an attachment."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    from mamori.access.actions import create_unit
    from mamori.accounts.actions import create_api_token
    from mamori.records import actions as ra
    from mamori.records.actions_attachments import upload_attachment
    from mamori.siem.actions import create_subscription
    from mamori.sso.actions import save_connection

    actor = Actor.for_user(admin)
    with use_tenant(tenant):
        ws = ra.create_workspace(actor=actor, name=f"Plant {tag}")
        ra.add_workspace_member(actor=actor, workspace_id=ws.pk, user_id=editor.pk)
        label = ra.create_label(actor=actor, name=f"urgent{tag}")
        made = []
        for i in range(records):
            rec = ra.create_record(actor=Actor.for_user(editor), workspace_id=ws.pk, title=f"Record {tag}{i} 検査",
                                   body="line1\nline2 \"quoted\" \u2028", label_ids=[label.pk] if i % 2 else [])
            made.append(rec)
        ra.comment_on_record(actor=actor, record_id=made[0].pk, body="looks fine")
        top = create_unit(actor=actor, name=f"HQ{tag}")
        child = create_unit(actor=actor, name=f"Sales{tag}", parent_id=top.pk)
        create_unit(actor=actor, name=f"Tokyo{tag}", parent_id=child.pk)
        TOTP.activate(admin, "JBSWY3DPEHPK3PXP")
        RecoveryCodes.activate(admin)
        save_connection(actor=actor, name="IdP", issuer="https://idp.example.com", client_id="mamori",
                        client_secret=f"sso-secret-{tag}", enabled=False, break_glass_user_ids=[admin.pk])
        create_subscription(actor=actor, url="https://1.1.1.1/hook")
        create_api_token(actor=actor, user=admin, name="ci")
        attachment = upload_attachment(actor=Actor.for_user(editor), record_id=made[0].pk, file=io.BytesIO(PDF),
                                       filename="report.pdf")
    return {"workspace": ws, "records": made, "attachment": attachment, "unit": child, "role": Role.VIEWER}


@contextmanager
def in_tenant(tenant):
    """``tenant_context(tenant)`` from anywhere (the test's active tenant is set aside)."""
    with use_tenant(None), tenant_context(tenant):
        yield tenant


def _normal(value, tenant_id: int, label: str):
    """Tokens compared by their plaintext (a restore as new re-encrypts them)."""
    if isinstance(value, str) and keys.is_token(value):
        for purpose in tb._candidate_purposes(label):
            try:
                return ("plaintext", keys.decrypt_for_tenant(tenant_id, value, purpose=purpose))
            except keys.DecryptionError:
                continue
        raise AssertionError(f"undecryptable token in {label}")
    if isinstance(value, dict):
        return {k: _normal(v, tenant_id, label) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, tenant_id, label) for v in value]
    return value


def snapshot(tenant) -> dict[str, list[dict]]:
    """Every backup table's rows of ``tenant`` (pk order), read inside its context."""
    out = {}
    with in_tenant(tenant):
        for table in tb.backup_tables():
            rows = []
            for values in table.rows(tenant.pk).values_list(*table.columns):
                rows.append({c: _normal(v, tenant.pk, table.label) for c, v in zip(table.columns, values, strict=True)})
            out[table.label] = rows
    return out


def checksum(snap: dict) -> str:
    return hashlib.sha256(json.dumps(snap, sort_keys=True, default=str).encode()).hexdigest()


def counts(snap: dict) -> dict[str, int]:
    return {label: len(rows) for label, rows in snap.items()}
