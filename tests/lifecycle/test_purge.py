"""Issue 6 item 4: the irrecoverable purge — zero rows, no files, no keys; another tenant untouched."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle import certificate as certs
from mamori.lifecycle import keys
from mamori.lifecycle.models import DeletionCertificate, TenantDataKey, Termination
from mamori.lifecycle.purge import purge_tables, purge_tenant
from mamori.tenancy.context import tenant_context, use_tenant
from mamori.tenancy.models import Tenant
from tests.lifecycle.termination_helpers import deliver, files_of, make_tenant_data, table_counts


@pytest.fixture(autouse=True)
def _storage(storage):
    """Files of this test in a directory of its own (tests/conftest.py)."""


@pytest.fixture
def populated(tenant, admin, editor, other_tenant, outsider):
    make_tenant_data(tenant, admin, records=6, files=3)
    make_tenant_data(other_tenant, outsider, records=4, files=2)
    return tenant


def _terminate(tenant, admin):
    with use_tenant(tenant):
        return acts.request_termination(actor=Actor.for_user(admin), confirm_slug=tenant.slug)


def test_purge_leaves_nothing_and_other_tenant_untouched(populated, admin, other_tenant, mailoutbox,
                                                        django_capture_on_commit_callbacks):
    tenant = populated
    other_before = table_counts(other_tenant)
    other_files = files_of(other_tenant)
    _terminate(tenant, admin)
    before = table_counts(tenant)
    assert before["records.Record"] == 6 and before["audit.AuditEvent"] > 0 and before["accounts.User"] >= 2
    assert len(files_of(tenant)) == 3
    with tenant_context(tenant):
        fingerprints = [r.fingerprint for r in TenantDataKey.objects.all()]
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        cert = purge_tenant(tenant, actor=Actor.system("test"), force=True, size=4)
    # Zero rows of the purged tenant in every table …
    after = table_counts(tenant)
    assert after == {label: 0 for label in after}
    # … its data keys destroyed (rows kept with the fingerprint only) …
    with use_tenant(None), tenant_context(tenant):
        rows = list(TenantDataKey.objects.all())
    assert rows and all(r.state == TenantDataKey.State.DESTROYED and r.wrapped_key == "" for r in rows)
    # … no files; the other tenant is exactly as before.
    assert files_of(tenant) == []
    assert not default_storage.exists(f"tenants/{tenant.pk}/attachments/0/file0.bin")
    assert table_counts(other_tenant) == other_before
    assert files_of(other_tenant) == other_files
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.PURGED
    # Counts: the certificate reports exactly what was there.
    facts = certs.verify_document(cert.document)
    assert facts.ok, facts.message
    import json

    doc = json.loads(cert.document)["certificate"]
    assert doc["tables"] == {label: n for label, n in before.items() if n}
    assert doc["files_removed"] == 3 and doc["rows_deleted"] == sum(before.values())
    assert sorted(k["fingerprint"] for k in doc["data_keys_destroyed"]) == sorted(fingerprints)
    assert doc["tenant"] == {"id": tenant.pk, "slug": "acme", "name": "Acme 株式会社"}
    assert "admin@acme.example" not in cert.document  # no customer data
    t = Termination.objects.get(tenant=tenant)
    assert t.state == Termination.State.PURGED and t.contact_emails == []
    # The provider log keeps the record; the certificate was mailed to the admins captured at termination.
    with use_tenant(None):
        actions = list(ProviderEvent.objects.filter(tenant_ref=tenant.pk).values_list("action", flat=True))
    assert {"tenant.purge_started", "keys.tenant_keys_destroyed", "tenant.purged"} <= set(actions)
    deliver()
    mail = [m for m in mailoutbox if "admin@acme.example" in m.to and cert.certificate_id in m.body]
    assert mail and '"signature"' in mail[0].body
    # Idempotent: running again returns the same certificate and changes nothing.
    with use_tenant(None):
        again = purge_tenant(tenant, actor=Actor.system("test"))
    assert again.pk == cert.pk and DeletionCertificate.objects.count() == 1


def test_encrypted_values_unreadable_after_purge(populated, admin):
    tenant = populated
    with use_tenant(tenant):
        token = keys.encrypt_for_tenant(tenant.pk, b"kept elsewhere", purpose="test")
    _terminate(tenant, admin)
    with use_tenant(None):
        purge_tenant(tenant, actor=Actor.system("test"), force=True)
    keys.clear_cache()
    with use_tenant(tenant), pytest.raises(keys.DecryptionError):
        keys.decrypt_for_tenant(tenant.pk, token, purpose="test")
    with use_tenant(tenant), pytest.raises(keys.MasterKeyError):
        keys.encrypt_for_tenant(tenant.pk, b"new", purpose="test")  # no new key for a purged tenant


def test_purged_tenant_console_is_gone(populated, admin, client):
    _terminate(populated, admin)
    with use_tenant(None):
        purge_tenant(populated, actor=Actor.system("test"), force=True)
    assert client.get("/t/acme/accounts/login/").status_code == 404


def test_audit_chain_still_verifies_after_purge(populated, admin, other_tenant):
    from mamori.audit.verify import verify_tenant_chain

    _terminate(populated, admin)
    with use_tenant(None):
        purge_tenant(populated, actor=Actor.system("test"), force=True)
        populated.refresh_from_db()
        report = verify_tenant_chain(populated)
        assert report.ok, report.reason
        assert verify_tenant_chain(other_tenant).ok
    with use_tenant(populated):
        assert AuditEvent.objects.count() == 0


def test_purge_needs_a_termination_and_the_end_of_grace(tenant, admin):
    from django.core.exceptions import ValidationError

    with use_tenant(None), pytest.raises(ValidationError):
        purge_tenant(tenant, actor=Actor.system("test"))
    _terminate(tenant, admin)
    with use_tenant(None), pytest.raises(ValidationError):
        purge_tenant(tenant, actor=Actor.system("test"))  # grace period not over, no --now
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.TERMINATING
    assert table_counts(tenant)["accounts.User"] >= 1


def test_cancel_refused_once_purging(tenant, admin):
    from django.core.exceptions import ValidationError

    t = _terminate(tenant, admin)
    with use_tenant(None):
        acts.begin_purge(actor=Actor.system("test"), termination=t, force=True)
        with pytest.raises(ValidationError):
            acts.cancel_termination(actor=Actor.system("test"), tenant=tenant)


def test_every_tenant_table_is_purged():
    """The purge walks the shared map: every tenant table except the key table (destroyed separately)."""
    from mamori.lifecycle.walk import data_tables

    labels = {t.label for t in purge_tables()}
    assert labels == {t.label for t in data_tables()} - {"lifecycle.TenantDataKey"}
    order = [t.label for t in purge_tables()]
    assert order.index("records.RecordComment") < order.index("records.Record") < order.index("records.Workspace")
