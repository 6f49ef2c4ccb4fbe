"""Attachments in the data lifecycle: the file source (export, per-tenant backup, restore), key
rotation and destruction, and row-level security on PostgreSQL."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from mamori.audit.events import Actor
from mamori.lifecycle.walk import data_tables, file_sources
from mamori.records import actions
from mamori.records import attachments as files
from mamori.records.actions_attachments import download_attachment, upload_attachment
from mamori.records.models import Attachment
from mamori.tenancy.context import tenant_context, use_tenant
from tests.records.conftest import PDF, PNG, big_bytes

pytestmark = pytest.mark.usefixtures("storage", "english")


def upload(user, record, data, name="a.pdf"):
    return upload_attachment(actor=Actor.for_user(user), record_id=record.pk, file=io.BytesIO(data),
                             filename=name, size=len(data))


def source():
    return next(s for s in file_sources() if s.name == "records.attachments")


def test_attachments_are_tenant_data_and_a_file_source():
    assert "records.Attachment" in [t.label for t in data_tables()]
    assert "records.AttachmentPolicy" in [t.label for t in data_tables()]
    assert source().restore is not None


def test_file_source_lists_decrypted_files_of_one_tenant(editor, att_record, tenant, other_tenant):
    data = big_bytes(3 * files.SEGMENT_SIZE + 5)
    a = upload(editor, att_record, data, "仕様書.pdf")
    b = upload(editor, att_record, PNG, "p.png")
    listed = list(source().files(tenant.pk))
    assert [f.owner_pk for f in listed] == [a.pk, b.pk]
    assert listed[0].archive_name == f"attachments/{att_record.pk}/{a.pk}-仕様書.pdf"
    assert listed[0].owner_label == "records.Attachment" and listed[0].size == len(data)
    with listed[0].open() as stream:
        assert stream.read() == data
    with listed[1].open() as stream:
        assert stream.read() == PNG
    with use_tenant(None), tenant_context(other_tenant):
        assert list(source().files(other_tenant.pk)) == []


def test_tampered_file_fails_the_export_stream(editor, att_record, tenant, storage):
    a = upload(editor, att_record, big_bytes(2 * files.SEGMENT_SIZE + 1))
    path = storage / a.storage_name
    path.write_bytes(path.read_bytes()[:-files.SEGMENT_SIZE // 2])
    (tenant_file,) = source().files(tenant.pk)
    with pytest.raises(OSError, match="truncated|modified"), tenant_file.open() as stream:
        stream.read()


def test_restore_into_a_new_tenant_re_encrypts_with_its_key(editor, att_record, tenant, other_tenant, outsider,
                                                             storage):
    original = upload(editor, att_record, PDF, "契約書.pdf")
    (tenant_file,) = source().files(tenant.pk)
    plaintext = tenant_file.open().read()
    with use_tenant(None), tenant_context(other_tenant):
        ws = actions.create_workspace(actor=Actor.for_user(outsider), name="Restored")
        record = actions.create_record(actor=Actor.for_user(outsider), workspace_id=ws.pk, title="Restored")
        row = Attachment.objects.create(
            uuid=original.uuid, record=record, filename=original.filename, content_type=original.content_type,
            size=original.size, storage_name=original.storage_name, key_version=original.key_version)
        source().restore(row, io.BytesIO(plaintext))
        row.refresh_from_db()
        assert row.storage_name == f"tenants/{other_tenant.pk}/attachments/{original.uuid}"
        result = download_attachment(actor=Actor.for_user(outsider), record_id=record.pk, attachment_id=row.pk)
        assert b"".join(result.chunks()) == PDF
    # The copy is not the original's ciphertext: another tenant's key, another salt.
    assert (storage / row.storage_name).read_bytes()[48:] != (storage / original.storage_name).read_bytes()[48:]
    # …and the original is untouched.
    result = download_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, attachment_id=original.pk)
    assert b"".join(result.chunks()) == PDF


def test_in_place_restore_keeps_the_new_file(editor, att_record, tenant, storage,
                                             django_capture_on_commit_callbacks):
    """Delete the row and restore it in the same transaction: the file the restored row points
    at survives the deleted row's cleanup; the stale one goes."""
    original = upload(editor, att_record, PDF)
    plaintext = next(iter(source().files(tenant.pk))).open().read()
    fields = {f.attname: getattr(original, f.attname) for f in Attachment._meta.concrete_fields}
    with django_capture_on_commit_callbacks(execute=True):
        Attachment.objects.filter(pk=original.pk).delete()
        restored = Attachment(**fields)
        restored.save()
        source().restore(restored, io.BytesIO(plaintext))
    restored.refresh_from_db()
    assert (storage / restored.storage_name).exists()
    if restored.storage_name != original.storage_name:
        assert not (storage / original.storage_name).exists()
    result = download_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, attachment_id=restored.pk)
    assert b"".join(result.chunks()) == PDF


def test_in_place_restore_over_the_same_name_keeps_the_file(editor, att_record, tenant, settings, tmp_path,
                                                             django_capture_on_commit_callbacks):
    """With a storage that overwrites (as S3 does by default) the restored file has the deleted
    row's name; the cleanup after commit — run outside the tenant's context, as after a
    request — sees the restored row (in the tenant's context, so RLS agrees) and keeps it."""
    root = tmp_path / "overwriting"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "allow_overwrite": True}}}
    original = upload(editor, att_record, PDF)
    plaintext = next(iter(source().files(tenant.pk))).open().read()
    fields = {f.attname: getattr(original, f.attname) for f in Attachment._meta.concrete_fields}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Attachment.objects.filter(pk=original.pk).delete()
        restored = Attachment(**fields)
        restored.save()
        source().restore(restored, io.BytesIO(plaintext))
    restored.refresh_from_db()
    assert restored.storage_name == original.storage_name and callbacks
    with use_tenant(None):
        for callback in callbacks:
            callback()
    assert (root / restored.storage_name).exists()
    result = download_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, attachment_id=restored.pk)
    assert b"".join(result.chunks()) == PDF
    # Deleted for good: the cleanup outside the tenant's context removes it.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Attachment.objects.filter(pk=restored.pk).delete()
    with use_tenant(None):
        for callback in callbacks:
            callback()
    assert not (root / restored.storage_name).exists()


def test_key_rotation_keeps_old_files_readable(editor, att_record, tenant):
    from mamori.lifecycle.rotation import rotate_tenant

    old = upload(editor, att_record, PDF)
    with use_tenant(None):
        rotate_tenant(tenant, actor=Actor.system("test"))
    new = upload(editor, att_record, PNG, "p.png")
    assert (old.key_version, new.key_version) == (1, 2)
    for attachment, data in ((old, PDF), (new, PNG)):
        result = download_attachment(actor=Actor.for_user(editor), record_id=att_record.pk,
                                     attachment_id=attachment.pk)
        assert b"".join(result.chunks()) == data


def test_destroyed_keys_make_files_unreadable(editor, att_record, tenant):
    from mamori.lifecycle.actions import destroy_tenant_keys

    attachment = upload(editor, att_record, PDF)
    with use_tenant(None):
        destroy_tenant_keys(actor=Actor.system("test"), tenant=tenant)
    with pytest.raises(files.AttachmentUnreadable, match="not available"):
        download_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, attachment_id=attachment.pk)


def test_row_level_security_hides_other_tenants_attachments(editor, att_record, other_tenant, on_postgres):
    if not on_postgres:
        pytest.skip("row-level security is PostgreSQL's")
    upload(editor, att_record, PDF)
    with use_tenant(None), tenant_context(other_tenant):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM records_attachment")
            assert cursor.fetchone()[0] == 0
        assert Attachment.objects_across_tenants.count() == 0
