"""Tenant key rotation re-encrypts attachment files (real files in a temporary default storage).

After ``rotate_tenant`` every attachment's file is stored under the active data key only: the
download returns the same bytes, the stored file's header names the new version and the file
does not decrypt with the old one; finishing the rotation is refused while any attachment is
still on an old version. A crash between the steps (write the new file → switch the row →
delete the old file) leaves every attachment readable, and the next run finishes the work
without leaving orphan files or losing one. Other tenants are untouched.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.lifecycle.actions import finish_tenant_key_rotation, start_tenant_key_rotation
from mamori.lifecycle.models import TenantDataKey
from mamori.lifecycle.rotation import reencrypt_tenant, remaining_old_tokens, rotate_tenant
from mamori.records import actions
from mamori.records import attachments as files
from mamori.records.actions_attachments import download_attachment, upload_attachment
from mamori.records.models import Attachment
from mamori.tenancy.context import tenant_context, use_tenant
from tests.records.conftest import PDF, PNG, big_bytes, stored_files

SYSTEM = Actor.system("test")

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def record(tenant, admin, editor):
    ws = actions.create_workspace(actor=Actor.for_user(admin), name="Plant 1")
    actions.add_workspace_member(actor=Actor.for_user(admin), workspace_id=ws.pk, user_id=editor.pk)
    return actions.create_record(actor=Actor.for_user(editor), workspace_id=ws.pk, title="Report")


def _upload(user, record, data, name="a.pdf"):
    return upload_attachment(actor=Actor.for_user(user), record_id=record.pk, file=io.BytesIO(data),
                             filename=name, size=len(data))


def _download(user, record, attachment) -> bytes:
    result = download_attachment(actor=Actor.for_user(user), record_id=record.pk, attachment_id=attachment.pk)
    return b"".join(result.chunks())


def _rows(tenant=None):
    query = Attachment.objects_across_tenants.order_by("pk")
    if tenant is not None:
        query = query.filter(tenant_id=tenant.pk)
    return list(query.values("pk", "uuid", "storage_name", "key_version"))


def _header_version(path) -> int:
    with open(path, "rb") as handle:
        return files.HEADER.unpack(handle.read(files.HEADER.size))[1]


def _decrypts_with(tenant_id, row, version) -> bool:
    """Does the stored file decrypt with data key ``version`` (the header's salt, this version's key)?"""
    with open(files.default_storage.path(row["storage_name"]), "rb") as handle:
        header = handle.read(files.HEADER.size)
        _magic, _v, segment_size, salt = files.HEADER.unpack(header)
        _version, key = files.derive_tenant_key(tenant_id, purpose=files.purpose_for(row["uuid"]), salt=salt,
                                                version=version)
        segment = handle.read(segment_size + files.TAG_BYTES)
        final = len(segment) < segment_size + files.TAG_BYTES or not handle.read(1)
    aad = files._segment_aad(tenant_id, row["uuid"], header, 0, final)
    try:
        files.AESGCM(key).decrypt(files._nonce(0), segment, aad)
    except files.InvalidTag:
        return False
    return True


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def three(editor, record):
    """Three attachments (one of several segments) on data key version 1."""
    data = {"big.pdf": big_bytes(3 * files.SEGMENT_SIZE + 17), "p.png": PNG, "c.pdf": PDF}
    uploaded = {name: _upload(editor, record, content, name) for name, content in data.items()}
    assert {a.key_version for a in uploaded.values()} == {1}
    return uploaded, data


def test_rotation_reencrypts_every_file_with_the_new_key(tenant, editor, record, storage, three,
                                                         django_capture_on_commit_callbacks):
    uploaded, data = three
    old_rows = _rows(tenant)
    old_paths = {r["pk"]: storage / r["storage_name"] for r in old_rows}
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        active = rotate_tenant(tenant, actor=SYSTEM, batch_size=2)
    assert active.version == 2
    assert dict(TenantDataKey.objects.values_list("version", "state")) == {1: "retired", 2: "active"}
    rows = _rows(tenant)
    for row in rows:
        assert row["key_version"] == 2
        assert row["storage_name"] == files.rotated_storage_name(tenant.pk, row["uuid"], 2)
        assert _header_version(storage / row["storage_name"]) == 2
        assert _decrypts_with(tenant.pk, row, 2)
        assert not _decrypts_with(tenant.pk, row, 1)  # the old key no longer opens it
    # The old files are gone: exactly one file per attachment remains.
    assert not any(p.exists() for p in old_paths.values())
    assert stored_files(storage) == sorted(storage / r["storage_name"] for r in rows)
    # Downloads return the same bytes (and pass the size check).
    for name, attachment in uploaded.items():
        assert _download(editor, record, attachment) == data[name]
    # Audited through the rotation events; the count includes the files.
    event = AuditEvent.objects.get(action="keys.tenant_rotated")
    assert event.after["reencrypted"] >= 3
    assert remaining_old_tokens(2) == 0


def test_finishing_is_refused_while_one_file_is_on_the_old_key(tenant, editor, record, storage, three,
                                                                monkeypatch, django_capture_on_commit_callbacks):
    uploaded, data = three
    start_tenant_key_rotation(actor=SYSTEM)
    assert remaining_old_tokens(2) == 3  # the hook's count: the three files
    with pytest.raises(ValidationError, match="3 values still use the old key"):
        finish_tenant_key_rotation(actor=SYSTEM)
    # Re-encrypt all but one file.
    skip = uploaded["p.png"].pk
    real = files.reencrypt_file
    monkeypatch.setattr(files, "reencrypt_file", lambda t, pk, v: False if pk == skip else real(t, pk, v))
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        reencrypt_tenant(tenant)
    assert remaining_old_tokens(2) == 1
    with pytest.raises(ValidationError, match="1 values still use the old key"):
        finish_tenant_key_rotation(actor=SYSTEM)
    assert TenantDataKey.objects.get(version=1).state == "retiring"
    # Meanwhile both versions decrypt.
    for name, attachment in uploaded.items():
        assert _download(editor, record, attachment) == data[name]
    monkeypatch.setattr(files, "reencrypt_file", real)
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    assert TenantDataKey.objects.get(version=1).state == "retired"
    assert {r["key_version"] for r in _rows(tenant)} == {2}


class Crash(Exception):
    pass


def _crash_once(monkeypatch, name):
    real = getattr(files, name)
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first file goes through, the second one crashes
            raise Crash(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(files, name, crashing)
    return real


def _assert_converged(tenant, editor, record, storage, uploaded, data):
    rows = _rows(tenant)
    assert {r["key_version"] for r in rows} == {2}
    assert stored_files(storage) == sorted(storage / r["storage_name"] for r in rows)  # no orphan, none lost
    for name, attachment in uploaded.items():
        assert _download(editor, record, attachment) == data[name]
    assert TenantDataKey.objects.get(version=1).state == "retired"


@pytest.mark.parametrize("step", ["_write_reencrypted", "_switch"])
def test_crash_before_the_switch_then_rerun(step, tenant, editor, record, storage, three, monkeypatch,
                                            django_capture_on_commit_callbacks):
    """Crash while writing the new file, or after writing it but before switching the row."""
    uploaded, data = three
    if step == "_write_reencrypted":
        # A crash in the middle of the write, without cleanup (as a killed process leaves it).
        real_save = files.default_storage.__class__._save
        real_delete = files.delete_quietly
        calls = {"n": 0, "partial": None}

        def dying_save(self, name, content):
            calls["n"] += 1
            if calls["n"] == 2:
                path = self.path(name)
                calls["partial"] = name
                with open(path, "wb") as handle:
                    handle.write(next(iter(content.chunks()))[:1000])  # a partial file
                raise Crash("killed")
            return real_save(self, name, content)

        monkeypatch.setattr(files.default_storage.__class__, "_save", dying_save)
        # No cleanup of the partial file: the process was killed.
        monkeypatch.setattr(files, "delete_quietly", lambda name: None if name == calls["partial"] else real_delete(name))
    else:
        _crash_once(monkeypatch, step)
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True), pytest.raises(Crash):
        rotate_tenant(tenant, actor=SYSTEM)
    # Every attachment is still readable (one on the new key, the others on the old one).
    assert sorted(r["key_version"] for r in _rows(tenant)) == [1, 1, 2]
    for name, attachment in uploaded.items():
        assert _download(editor, record, attachment) == data[name]
    # A leftover file of the interrupted step exists next to the rows' files.
    assert len(stored_files(storage)) == 4
    with pytest.raises(ValidationError):
        finish_tenant_key_rotation(actor=SYSTEM)
    monkeypatch.undo()
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    _assert_converged(tenant, editor, record, storage, uploaded, data)


def test_crash_after_the_switch_before_the_old_file_is_deleted(tenant, editor, record, storage, three,
                                                               django_capture_on_commit_callbacks):
    """The switch committed but the process died before deleting the old files (the on-commit
    deletions never ran): the next run removes them."""
    uploaded, data = three
    old_paths = [storage / r["storage_name"] for r in _rows(tenant)]
    with use_tenant(None), django_capture_on_commit_callbacks(execute=False):
        start_tenant_key_rotation_as_system(tenant)
        # Only the switches (no sweep at the end either: the process "dies" right after them).
        with tenant_context(tenant):
            version = TenantDataKey.objects.get(state="active").version
            rows = _rows(tenant)
        assert len(rows) == 3
        for row in rows:
            assert files.reencrypt_file(tenant, row["pk"], version)
    assert all(p.exists() for p in old_paths)  # orphans on the old key
    assert len(stored_files(storage)) == 6
    for name, attachment in uploaded.items():
        assert _download(editor, record, attachment) == data[name]
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    assert not any(p.exists() for p in old_paths)
    _assert_converged(tenant, editor, record, storage, uploaded, data)


def start_tenant_key_rotation_as_system(tenant):
    with tenant_context(tenant):
        start_tenant_key_rotation(actor=SYSTEM)


def test_an_upload_in_progress_is_not_swept(tenant, editor, record, storage, three,
                                            django_capture_on_commit_callbacks):
    """A file whose row does not exist yet (an upload between storing and committing) stays."""
    import uuid

    stored = files.store_encrypted(tenant.pk, uuid.uuid4(), io.BytesIO(PDF))
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    assert (storage / stored.storage_name).exists()


def test_unreadable_file_is_left_and_blocks_finishing(tenant, editor, record, storage, three,
                                                      django_capture_on_commit_callbacks):
    uploaded, data = three
    broken = uploaded["c.pdf"]
    broken_path = storage / broken.storage_name
    broken_path.write_bytes(broken_path.read_bytes()[:-5])  # truncated
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        rotate_tenant(tenant, actor=SYSTEM)
    by_pk = {r["pk"]: r for r in _rows(tenant)}
    assert by_pk[broken.pk]["key_version"] == 1 and broken_path.exists()
    assert {by_pk[a.pk]["key_version"] for a in (uploaded["big.pdf"], uploaded["p.png"])} == {2}
    assert TenantDataKey.objects.get(version=1).state == "retiring"
    # Deleting the broken attachment lets the rotation finish.
    with django_capture_on_commit_callbacks(execute=True):
        actions_attachments_delete(editor, record, broken)
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    assert TenantDataKey.objects.get(version=1).state == "retired"
    assert len(stored_files(storage)) == 2


def actions_attachments_delete(user, record, attachment):
    from mamori.records.actions_attachments import delete_attachment

    delete_attachment(actor=Actor.for_user(user), record_id=record.pk, attachment_id=attachment.pk)


def test_other_tenants_files_are_untouched(tenant, editor, record, storage, three, other_tenant, outsider,
                                           django_capture_on_commit_callbacks):
    with use_tenant(None), tenant_context(other_tenant):
        ws = actions.create_workspace(actor=Actor.for_user(outsider), name="Other")
        other_record = actions.create_record(actor=Actor.for_user(outsider), workspace_id=ws.pk, title="Other")
        theirs = _upload(outsider, other_record, PDF, "theirs.pdf")
    theirs_path = storage / theirs.storage_name
    before = _digest(theirs_path)
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    assert _digest(theirs_path) == before
    with use_tenant(None), tenant_context(other_tenant):
        assert _rows(other_tenant)[0]["storage_name"] == theirs.storage_name
        assert _rows(other_tenant)[0]["key_version"] == 1
        assert dict(TenantDataKey.objects.values_list("version", "state")) == {1: "active"}
        assert _download(outsider, other_record, theirs) == PDF


def test_rotating_twice_and_a_new_upload(tenant, editor, record, storage, three,
                                         django_capture_on_commit_callbacks):
    uploaded, data = three
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    fresh = _upload(editor, record, PNG, "fresh.png")
    assert fresh.key_version == 2
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        rotate_tenant(tenant, actor=SYSTEM)
    rows = _rows(tenant)
    assert {r["key_version"] for r in rows} == {3}
    assert stored_files(storage) == sorted(storage / r["storage_name"] for r in rows)
    for name, attachment in uploaded.items():
        assert _download(editor, record, attachment) == data[name]
    assert _download(editor, record, fresh) == PNG
