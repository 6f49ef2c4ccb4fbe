"""`mamori keys status|rotate-master|rotate-tenant|generate-master-key`."""

from __future__ import annotations

import base64
import json
import os
import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.audit.events import Actor
from mamori.lifecycle import keys
from mamori.lifecycle.keys import decrypt_for_tenant, encrypt_for_tenant
from mamori.lifecycle.models import TenantDataKey
from mamori.siem.actions import create_subscription
from mamori.siem.models import WebhookSubscription
from mamori.tenancy.context import use_tenant


def _run(*args) -> str:
    out = StringIO()
    with use_tenant(None):
        call_command("keys", *args, stdout=out)
    return out.getvalue()


def test_status_lists_versions_without_key_material(tenant, other_tenant):
    encrypt_for_tenant(tenant.pk, b"x", purpose="t.p")
    data = json.loads(_run("status", "--json"))
    assert data["master_key"]["matches"] and data["master_key"]["id"] == keys.get_key_provider().key_id
    acme = next(t for t in data["tenants"] if t["slug"] == "acme")
    assert [(k["version"], k["state"]) for k in acme["keys"]] == [(1, "active")]
    assert "wrapped" not in json.dumps(data)
    text = _run("status")
    assert "acme: v1 active" in text and "globex: no data key yet" in text


def test_rotate_tenant_command(tenant, admin):
    _sub, secret = create_subscription(actor=Actor.for_user(admin), url="https://1.1.1.1/h")
    out = _run("rotate-tenant", "acme", "--batch-size", "1")
    assert "v2" in out and "siem.WebhookSubscription.secret: 1 re-encrypted" in out
    assert WebhookSubscription.objects.get().secret == secret
    assert dict(TenantDataKey.objects.values_list("version", "state")) == {1: "retired", 2: "active"}
    with pytest.raises(CommandError, match="No tenant"):
        _run("rotate-tenant", "nope")


def test_generate_and_rotate_master(tenant, tmp_path, monkeypatch):
    token = encrypt_for_tenant(tenant.pk, b"x", purpose="t.p")
    path = tmp_path / "new.key"
    out = _run("generate-master-key", str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and "id " in out
    assert len(base64.b64decode(path.read_text())) == 32
    with pytest.raises(CommandError, match="exists"):
        _run("generate-master-key", str(path))
    out = _run("rotate-master", "--new-key-file", str(path))
    assert "Re-wrapped 1 data keys of 1 tenants" in out
    # Until the new key is configured, the old one is refused with a clear message.
    with pytest.raises(CommandError, match="not the one the data keys"):
        _run("status")
    monkeypatch.setenv("MAMORI_MASTER_KEY_FILE", str(path))
    assert decrypt_for_tenant(tenant.pk, token, purpose="t.p") == b"x"
    assert "(in use)" in _run("status")
    # Rotating to the same key again is refused.
    monkeypatch.setenv("MAMORI_NEW_MASTER_KEY_FILE", str(path))
    with pytest.raises(CommandError):
        _run("rotate-master")


def test_rotate_master_needs_a_new_key(tenant):
    with pytest.raises(CommandError, match="new master key"):
        _run("rotate-master")


def test_rotate_tenant_in_the_background(tenant, admin):
    from django_tasks_db.models import DBTaskResult

    from mamori.lifecycle.tasks import rotate_tenant_key_task

    _sub, secret = create_subscription(actor=Actor.for_user(admin), url="https://1.1.1.1/h")
    out = _run("rotate-tenant", "acme", "--background")
    assert "v2 active; re-encryption queued" in out
    row = DBTaskResult.objects.get(task_path__endswith="rotate_tenant_key_task")
    assert row.args_kwargs["kwargs"]["tenant_id"] == tenant.pk
    status = json.loads(_run("status", "--json"))
    assert next(t for t in status["tenants"] if t["slug"] == "acme")["rotation_pending"] == 1
    with use_tenant(None):
        assert rotate_tenant_key_task.func(**row.args_kwargs["kwargs"]) == "v2"
    assert dict(TenantDataKey.objects.values_list("version", "state")) == {1: "retired", 2: "active"}
    assert WebhookSubscription.objects.get().secret == secret
