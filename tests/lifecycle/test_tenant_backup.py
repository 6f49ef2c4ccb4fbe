"""Issue 6, item 6: per-tenant encrypted logical backups and per-tenant restore.

Round trips (backup → restore as new → every table equal modulo remapped keys; in-place restore
after changes → equal to the backup), other tenant untouched, destroyed data key → unreadable,
tampered / truncated / other-schema backups refused with nothing written. Runs on SQLite and
PostgreSQL (RLS is real there: every read and write happens inside the tenant's context).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.lifecycle import tenant_backup as tb
from mamori.lifecycle import tenant_backup_cli as cli
from mamori.lifecycle import tenant_backup_jobs as jobs
from mamori.lifecycle.actions_tenant_backup import prune_tenant_backups, restore_tenant_backup
from mamori.lifecycle.models import TenantBackup
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.lifecycle.tenant_backup_helpers import (
    PDF,
    checksum,
    counts,
    in_tenant,
    populate,
    snapshot,
)

SYSTEM = Actor.system("test")


@pytest.fixture(autouse=True)
def _storage(storage):
    return storage


@pytest.fixture
def populated(tenant, admin, editor, viewer, outsider, other_tenant):
    data = populate(tenant, admin, editor)
    from tests.conftest import _user

    other_editor = _user(other_tenant, "editor@globex.example", "editor")
    populate(other_tenant, outsider, other_editor, records=3, tag="g")
    return data


def _take(tenant):
    with use_tenant(None):
        return jobs.take_backup(tenant, actor=SYSTEM)


def _restore(backup, **kwargs):
    with use_tenant(None):
        return restore_tenant_backup(actor=SYSTEM, backup=backup, **kwargs)


def _read_attachment(tenant, record_title_prefix=None) -> bytes:
    from mamori.records.attachments import open_plaintext
    from mamori.records.models import Attachment

    with in_tenant(tenant):
        att = Attachment.objects.get()
        with open_plaintext(att) as stream:
            return stream.read()


# --- the file -----------------------------------------------------------------------------------

def test_backup_is_one_encrypted_file_under_the_tenant_prefix(populated, tenant, _storage):
    backup = _take(tenant)
    assert backup.status == "complete" and backup.storage_name == f"tenants/{tenant.pk}/backups/{backup.uuid}.mtb"
    raw = (_storage / backup.storage_name).read_bytes()
    assert raw.startswith(tb.MAGIC) and len(raw) == backup.size
    # Nothing readable: no customer text, no secret, no table name in the ciphertext.
    for needle in (b"Record 0", "検査".encode(), b"sso-secret", b"accounts.User", b"%PDF"):
        assert needle not in raw
    assert backup.counts["records.Record"] == 5 and backup.counts["records.Attachment"] == 1
    assert backup.file_count == 1 and backup.row_count == sum(backup.counts.values())
    with in_tenant(tenant):
        checked = tb.check_backup(tb.open_backup(backup.storage_name, tenant_id=tenant.pk, backup_uuid=backup.uuid))
    manifest = checked.manifest
    assert {t["label"] for t in manifest["tables"]} == {t.label for t in tb.backup_tables()}
    assert all(len(t["sha256"]) == 64 for t in manifest["tables"])
    assert manifest["files"][0]["size"] == len(PDF) and manifest["schema"] == tb.schema_fingerprint()
    assert manifest["migrations"]["lifecycle"] >= "0006_tenant_backups"
    # Audited in the provider log and in the tenant's own log.
    assert ProviderEvent.objects.filter(action="tenant_backup.taken", target_id=str(backup.uuid)).exists()
    with in_tenant(tenant):
        assert AuditEvent.objects.filter(action="tenant_backup.created", target_id=str(backup.uuid)).exists()


def test_streamed_in_many_chunks_round_trips(populated, tenant):
    with use_tenant(None):
        result = tb.write_backup(tenant, chunk_size=1024)
    assert result.size > 20 * 1024  # many 1 KiB chunks
    with in_tenant(tenant):
        opened = tb.open_backup(result.storage_name, tenant_id=tenant.pk, backup_uuid=result.backup_uuid)
        assert sum(1 for _ in tb.decrypt_chunks(opened)) > 20
        assert tb.check_backup(opened).counts == result.counts


# --- restore as a new tenant -----------------------------------------------------------------------

def _remap_equal(source_snap, new_snap, source, new):
    """Every restored table equals the source modulo re-assigned keys; FKs point at the copies."""
    maps: dict[str, dict] = {}
    skipped = tb.KEEP_CURRENT | tb.CREDENTIAL_TABLES | tb.NOT_COPIED_AS_NEW
    tables = {t.label: t for t in tb.backup_tables()}
    for label, table in tables.items():
        if label in skipped:
            continue
        old_rows, new_rows = source_snap[label], new_snap[label]
        assert len(old_rows) == len(new_rows), label
        pk = table.model._meta.pk.attname
        maps[label] = {o[pk]: n[pk] for o, n in zip(old_rows, new_rows, strict=True)}
    for label, table in tables.items():
        if label in skipped:
            continue
        for old, new_row in zip(source_snap[label], new_snap[label], strict=True):
            for f in table.fields:
                a, b = old[f.attname], new_row[f.attname]
                if f.attname == table.model._meta.pk.attname:
                    assert maps[label][a] == b
                elif f.attname == "tenant_id":
                    assert (a, b) == (source.pk, new.pk)
                elif f.is_relation and f.related_model._meta.label in maps:
                    assert (maps[f.related_model._meta.label].get(a) if a is not None else None) == b, (label, f.name)
                elif (label, f.attname) in tb.ID_LIST_COLUMNS:
                    target = maps[tb.ID_LIST_COLUMNS[(label, f.attname)]]
                    assert [target[x] for x in a] == b
                elif label == "accounts.User" and f.attname == "session_stamp":
                    assert a != b  # every session of the copy starts fresh
                elif label == "records.Attachment" and f.attname in ("storage_name", "key_version"):
                    assert b.startswith(f"tenants/{new.pk}/") if f.attname == "storage_name" else b >= 1
                else:
                    assert a == b, (label, f.attname)
    for label in skipped - {"audit.AuditEvent", "lifecycle.TenantDataKey"}:
        assert new_snap[label] == [], label


def test_restore_as_new_copies_every_table_with_remapped_keys(populated, tenant, other_tenant):
    before = snapshot(tenant)
    other_before = snapshot(other_tenant)
    backup = _take(tenant)
    new, result = _restore(backup, mode="as_new", new_slug="acme-copy")
    assert new.slug == "acme-copy" and new.name == tenant.name and new.pk not in (tenant.pk, other_tenant.pk)
    _remap_equal(before, snapshot(new), tenant, new)
    assert result.files == 1 and _read_attachment(new) == PDF
    # The original tenant and the other tenant are untouched (counts and checksum of every row).
    after = snapshot(tenant)
    for label in ("audit.AuditEvent", "lifecycle.TenantDataKey"):
        after.pop(label), before.pop(label)
    assert checksum(after) == checksum(before)
    other_after = snapshot(other_tenant)
    assert counts(other_after) == counts(other_before) and checksum(other_after) == checksum(other_before)
    # Secrets were re-encrypted with the new tenant's own key (they open there, and only there).
    from mamori.siem.models import WebhookSubscription
    from mamori.sso.models import SsoConnection

    with in_tenant(new):
        copy = WebhookSubscription.objects.get()
        assert copy.secret and str(copy.__dict__["secret"]).startswith("mk1.")
        conn = SsoConnection.objects.get()
    from mamori.lifecycle import keys

    with use_tenant(None):
        assert keys.decrypt_for_tenant(new.pk, conn.client_secret_encrypted,
                                       purpose="sso.client_secret") == b"sso-secret-"
        with pytest.raises(keys.DecryptionError):
            keys.decrypt_for_tenant(tenant.pk, conn.client_secret_encrypted, purpose="sso.client_secret")
    # Audited: the new tenant's log, the source's log and the provider log.
    with in_tenant(new):
        assert AuditEvent.objects.filter(action="tenant_backup.restored").count() == 1
        assert AuditEvent.objects.filter(action="tenant.created").count() == 1
    with in_tenant(tenant):
        assert AuditEvent.objects.filter(action="tenant_backup.copied").count() == 1
    assert ProviderEvent.objects.filter(action="tenant_backup.restore_done", tenant_ref=new.pk).count() == 1


def test_restored_copy_signs_in_with_mfa_secret_re_encrypted(populated, tenant, admin):
    from allauth.mfa.models import Authenticator

    from mamori.multifactor.adapter import MamoriMFAAdapter

    backup = _take(tenant)
    new, _result = _restore(backup, mode="as_new", new_slug="acme-copy")
    with in_tenant(new):
        row = Authenticator.objects.get(user__tenant_id=new.pk, user__email=admin.email, type="totp")
        assert row.data["secret"] != "JBSWY3DPEHPK3PXP"  # stored encrypted …
        assert MamoriMFAAdapter().decrypt(row.data["secret"]) == "JBSWY3DPEHPK3PXP"  # … with the new key
        assert Authenticator.objects.filter(user__tenant_id=new.pk, type="recovery_codes").count() == 1


def test_restore_as_new_refuses_a_taken_slug_and_writes_nothing(populated, tenant, other_tenant):
    backup = _take(tenant)
    tenants = Tenant.objects.count()
    with pytest.raises(ValidationError) as info:
        _restore(backup, mode="as_new", new_slug=other_tenant.slug)
    assert "slug" in info.value.message_dict
    assert Tenant.objects.count() == tenants


# --- restore in place ----------------------------------------------------------------------------

def test_in_place_restore_after_changes_equals_the_backup(populated, tenant, admin, editor, other_tenant,
                                                          django_capture_on_commit_callbacks, _storage):
    from mamori.records import actions as ra
    from mamori.records.actions_attachments import delete_attachment

    before = snapshot(tenant)
    other_before = snapshot(other_tenant)
    backup = _take(tenant)
    events_before = None
    with use_tenant(tenant):
        events_before = AuditEvent.objects.count()
        actor = Actor.for_user(admin)
        rec = populated["records"][1]
        ra.update_record(actor=actor, record_id=rec.pk, title="changed after the backup")
        ra.delete_record(actor=actor, record_id=populated["records"][2].pk)
        ra.create_record(actor=Actor.for_user(editor), workspace_id=populated["workspace"].pk, title="new one")
        with django_capture_on_commit_callbacks(execute=True):
            delete_attachment(actor=Actor.for_user(editor), record_id=populated["records"][0].pk,
                              attachment_id=populated["attachment"].pk)
    assert snapshot(tenant) != before
    with django_capture_on_commit_callbacks(execute=True):
        target, result = _restore(backup, mode="in_place", confirmed=True)
    assert target.pk == tenant.pk
    after = snapshot(tenant)
    for label, rows in before.items():
        if label in tb.KEEP_CURRENT:
            continue
        if label in tb.CREDENTIAL_TABLES:
            assert after[label] == [], label  # old tokens and sessions do not come back
            continue
        for old, new in zip(rows, after[label], strict=True):
            for column in old:
                if (label, column) in {("accounts.User", "session_stamp"), ("records.Attachment", "storage_name")}:
                    continue
                assert old[column] == new[column], (label, column)
        assert len(rows) == len(after[label]), label
    assert _read_attachment(tenant) == PDF
    files = sorted(str(p.relative_to(_storage)) for p in (_storage / f"tenants/{tenant.pk}").rglob("*") if p.is_file())
    assert [f for f in files if "/attachments/" in f] == [after["records.Attachment"][0]["storage_name"]]
    # The audit log kept every event (also those after the backup) and gained the restore.
    with in_tenant(tenant):
        assert AuditEvent.objects.count() > events_before
        assert AuditEvent.objects.filter(action="tenant_backup.restored").count() == 1
    from mamori.audit.verify import verify_across_tenants

    with use_tenant(None):
        reports = verify_across_tenants([tenant], provider=True, record=False)
    assert all(r.ok for r in reports), [r.describe() for r in reports]
    other_after = snapshot(other_tenant)
    assert counts(other_after) == counts(other_before) and checksum(other_after) == checksum(other_before)


def test_in_place_needs_confirmation(populated, tenant):
    backup = _take(tenant)
    with pytest.raises(ValidationError) as info:
        _restore(backup, mode="in_place")
    assert "confirm" in info.value.message_dict


# --- refused backups -----------------------------------------------------------------------------

def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    elif how == "truncate":
        data = data[: len(data) - 100]
    elif how == "header":
        data[10] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate", "header"])
def test_damaged_backup_is_refused_naming_the_file_and_nothing_is_written(populated, tenant, _storage, how):
    backup = _take(tenant)
    _damage(_storage / backup.storage_name, how)
    before, tenants = snapshot(tenant), Tenant.objects.count()
    for mode, extra in (("in_place", {"confirmed": True}), ("as_new", {"new_slug": "acme-copy"})):
        with pytest.raises(ValidationError) as info:
            _restore(backup, mode=mode, **extra)
        assert backup.storage_name in info.value.message_dict["backup"][0]
    assert Tenant.objects.count() == tenants
    after = snapshot(tenant)
    after.pop("audit.AuditEvent"), before.pop("audit.AuditEvent")
    assert checksum(after) == checksum(before)


def test_backup_renamed_to_another_backup_or_tenant_is_refused(populated, tenant, other_tenant, _storage):
    first, second = _take(tenant), _take(tenant)
    (_storage / second.storage_name).write_bytes((_storage / first.storage_name).read_bytes())
    with pytest.raises(ValidationError, match="another tenant or backup"):
        _restore(second, mode="in_place", confirmed=True)


def test_destroyed_data_key_makes_the_backup_unreadable_for_good(populated, tenant, _storage):
    from mamori.lifecycle.actions import destroy_tenant_keys

    backup = _take(tenant)
    with use_tenant(None):
        destroy_tenant_keys(actor=SYSTEM, tenant=tenant)
    with pytest.raises(tb.BackupUnreadable, match="destroyed"):
        with in_tenant(tenant):
            tb.open_backup(backup.storage_name, tenant_id=tenant.pk, backup_uuid=backup.uuid)
    with pytest.raises(ValidationError, match="destroyed"):
        _restore(backup, mode="as_new", new_slug="acme-copy")


def test_other_schema_is_refused(populated, tenant, monkeypatch):
    backup = _take(tenant)
    from mamori.records.models import Record

    real = tb.BackupTable.columns.fget
    monkeypatch.setattr(tb.BackupTable, "columns", property(
        lambda self: real(self) + (["extra_column"] if self.model is Record else [])))
    with pytest.raises(ValidationError, match="columns of records.Record differ"):
        _restore(backup, mode="as_new", new_slug="acme-copy")


# --- selection, CLI, purge, prune ----------------------------------------------------------------

def test_restore_picks_the_newest_backup_at_or_before_the_time(populated, tenant):
    old, new = _take(tenant), _take(tenant)
    TenantBackup.objects.filter(pk=old.pk).update(taken_at=timezone.now() - timedelta(days=2))
    assert jobs.backup_at(tenant, timezone.now() - timedelta(days=1)).pk == old.pk
    assert jobs.backup_at(tenant, timezone.now()).pk == new.pk
    with pytest.raises(ValidationError) as info:
        jobs.backup_at(tenant, timezone.now() - timedelta(days=3))
    assert "at" in info.value.message_dict


def test_cli_create_list_restore_and_bad_input(populated, tenant):
    from django.utils import translation

    out = io.StringIO()
    with use_tenant(None), translation.override("en"):
        assert cli.handle("create-tenant", {"slug": tenant.slug}, out) == 0
        assert cli.handle("list-tenant", {"slug": tenant.slug, "json": True}, out := io.StringIO()) == 0
        rows = json.loads(out.getvalue())
        assert len(rows) == 1 and rows[0]["status"] == "complete"
        now = timezone.now().isoformat()
        assert cli.handle("restore-tenant", {"slug": "nope", "at": now, "as_new": "x"}, out := io.StringIO()) == 2
        assert "No tenant" in out.getvalue()
        assert cli.handle("restore-tenant", {"slug": tenant.slug, "at": "2000-01-01T00:00", "as_new": "x"},
                          out := io.StringIO()) == 2
        assert "No backup" in out.getvalue()
        assert cli.handle("restore-tenant", {"slug": tenant.slug, "at": "yesterday", "as_new": "x"},
                          out := io.StringIO()) == 2
        assert cli.handle("restore-tenant", {"slug": tenant.slug, "at": now, "in_place": True, "yes": False},
                          out := io.StringIO()) == 2
        assert "--yes" in out.getvalue()
        assert cli.handle("restore-tenant", {"slug": tenant.slug, "at": now, "as_new": "acme-cli"},
                          out := io.StringIO()) == 0, out.getvalue()
    assert Tenant.objects.filter(slug="acme-cli").exists()


def test_cli_through_the_backup_command(populated, tenant):
    from django.core.management import call_command

    out = io.StringIO()
    with use_tenant(None):
        call_command("backup", "create-tenant", tenant.slug, stdout=out)
        call_command("backup", "list-tenant", tenant.slug, stdout=out)
    assert "rows" in out.getvalue() and TenantBackup.objects.filter(tenant=tenant).count() == 1


def test_delete_tenant_backups_removes_every_file_and_is_idempotent(populated, tenant, other_tenant, _storage):
    _take(tenant), _take(tenant)
    other = _take(other_tenant)
    assert tb.delete_tenant_backups(tenant.pk) == 2
    assert tb.delete_tenant_backups(tenant.pk) == 0
    assert not list((_storage / f"tenants/{tenant.pk}/backups").glob("*"))
    assert set(TenantBackup.objects.filter(tenant=tenant).values_list("status", flat=True)) == {"deleted"}
    assert default_storage.exists(other.storage_name)


def test_prune_keeps_n_days_and_always_the_newest(populated, tenant, _storage):
    old, mid, new = _take(tenant), _take(tenant), _take(tenant)
    TenantBackup.objects.filter(pk=old.pk).update(taken_at=timezone.now() - timedelta(days=20))
    TenantBackup.objects.filter(pk=mid.pk).update(taken_at=timezone.now() - timedelta(days=3))
    with use_tenant(None):
        assert prune_tenant_backups(actor=SYSTEM, tenant=tenant, keep_days=14) == 1
    assert not default_storage.exists(old.storage_name) and default_storage.exists(mid.storage_name)
    assert TenantBackup.objects.get(pk=old.pk).status == "deleted"
    TenantBackup.objects.filter(pk__in=[mid.pk, new.pk]).update(taken_at=timezone.now() - timedelta(days=30))
    with use_tenant(None):
        assert prune_tenant_backups(actor=SYSTEM, tenant=tenant, keep_days=14) == 1  # the newest stays
    assert TenantBackup.objects.filter(tenant=tenant, status="complete").count() == 1


def test_daily_job_backs_up_every_active_tenant(populated, tenant, other_tenant, settings):
    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.SUSPENDED)
    with use_tenant(None):
        summary = jobs.run_daily()
    assert summary["backed_up"] == Tenant.objects.filter(status="active").count() and summary["failed"] == 0
    assert TenantBackup.objects.filter(tenant=tenant, trigger="scheduled").count() == 1
    assert not TenantBackup.objects.filter(tenant=other_tenant).exists()
    from mamori.core import schedule

    jobs.register_jobs()
    assert jobs.JOB_NAME in schedule._jobs


def test_failed_backup_leaves_no_partial_file(populated, tenant, _storage, monkeypatch):
    def broken(*args, **kwargs):
        yield b"x" * 10
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tb, "_plaintext", broken)
    with pytest.raises(OSError), use_tenant(None):
        jobs.take_backup(tenant, actor=SYSTEM)
    assert not list((_storage / f"tenants/{tenant.pk}").rglob("*.mtb"))
    failed = TenantBackup.objects.get(tenant=tenant)
    assert failed.status == "failed" and "No space" in failed.error
    assert ProviderEvent.objects.filter(action="tenant_backup.failed").exists()


@pytest.mark.postgres
def test_backup_reads_through_row_level_security(populated, tenant, other_tenant):
    """On PostgreSQL the dump runs as the application role with RLS on: only this tenant's rows."""
    backup = _take(tenant)
    with in_tenant(tenant):
        checked = tb.check_backup(tb.open_backup(backup.storage_name, tenant_id=tenant.pk, backup_uuid=backup.uuid))
    assert checked.counts["records.Record"] == 5
    assert checked.counts["accounts.User"] == len(snapshot(tenant)["accounts.User"])
