"""Attachments: the encrypted format, the actions, access, audit, limits and bad input."""

from __future__ import annotations

import io
import struct

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from mamori.access.errors import NotFound, PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records import attachments as files
from mamori.records.actions_attachments import (
    AttachmentTooLarge,
    delete_attachment,
    download_attachment,
    set_attachment_limit,
    upload_attachment,
)
from mamori.records.models import Attachment
from tests.records.conftest import PDF, PNG, big_bytes, stored_files

pytestmark = pytest.mark.usefixtures("storage", "english")


def upload(user, record, data: bytes, name: str = "report.pdf") -> Attachment:
    return upload_attachment(actor=Actor.for_user(user), record_id=record.pk, file=io.BytesIO(data),
                             filename=name, size=len(data))


def download(user, attachment) -> bytes:
    result = download_attachment(actor=Actor.for_user(user), record_id=attachment.record_id,
                                 attachment_id=attachment.pk)
    return b"".join(result.chunks())


def last_event(action):
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


# --- round trips and the stored form -----------------------------------------------------------

@pytest.mark.parametrize("size", [9, 100, files.SEGMENT_SIZE - 1, files.SEGMENT_SIZE, files.SEGMENT_SIZE + 1,
                                  3 * files.SEGMENT_SIZE, 3 * files.SEGMENT_SIZE + 17])
def test_round_trip_at_segment_boundaries(editor, att_record, storage, size):
    data = big_bytes(size)
    attachment = upload(editor, att_record, data)
    assert attachment.size == size and attachment.content_type == "application/pdf"
    assert download(editor, attachment) == data
    raw = (storage / attachment.storage_name).read_bytes()
    assert len(raw) == files.encrypted_size(size)
    assert data[:64] not in raw and b"%PDF" not in raw  # encrypted at rest


def test_stored_under_the_tenant_prefix_and_uuid(editor, att_record, tenant):
    attachment = upload(editor, att_record, PNG, "pixel.png")
    assert attachment.storage_name == f"tenants/{tenant.pk}/attachments/{attachment.uuid}"
    assert attachment.key_version == 1


def test_each_file_has_its_own_key_and_salt(editor, att_record, storage):
    a = upload(editor, att_record, PDF)
    b = upload(editor, att_record, PDF)
    raw_a = (storage / a.storage_name).read_bytes()
    raw_b = (storage / b.storage_name).read_bytes()
    assert raw_a[:8] == raw_b[:8] == files.MAGIC
    assert raw_a[16:48] != raw_b[16:48]  # salts
    assert raw_a[48:] != raw_b[48:]


def test_streaming_reads_in_segments_not_whole(editor, att_record):
    """The encrypting reader never asks the source for more than one segment at a time."""

    class Spy(io.BytesIO):
        biggest = 0

        def read(self, size=-1):
            Spy.biggest = max(Spy.biggest, size if size >= 0 else 1 << 60)
            return super().read(size)

    data = big_bytes(5 * files.SEGMENT_SIZE)
    attachment = upload_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, file=Spy(data),
                                   filename="big.pdf", size=len(data))
    assert Spy.biggest <= files.SEGMENT_SIZE
    assert download(editor, attachment) == data


# --- tampering ---------------------------------------------------------------------------------

def _tamper(storage, attachment, change):
    path = storage / attachment.storage_name
    path.write_bytes(change(path.read_bytes()))


@pytest.mark.parametrize("how", ["flip_first", "flip_last", "truncate_segment", "drop_last_segment",
                                 "append_segment", "swap_segments", "header_version", "header_salt", "empty"])
def test_tampered_file_is_refused_and_audited(editor, att_record, storage, how):
    seg = files.SEGMENT_SIZE + files.TAG_BYTES
    h = files.HEADER.size
    attachment = upload(editor, att_record, big_bytes(3 * files.SEGMENT_SIZE + 10))
    changes = {
        "flip_first": lambda b: b[:h + 5] + bytes([b[h + 5] ^ 1]) + b[h + 6:],
        "flip_last": lambda b: b[:-1] + bytes([b[-1] ^ 1]),
        "truncate_segment": lambda b: b[:-5],
        "drop_last_segment": lambda b: b[:h + 3 * seg],
        "append_segment": lambda b: b + b[h:h + seg],
        "swap_segments": lambda b: b[:h] + b[h + seg:h + 2 * seg] + b[h:h + seg] + b[h + 2 * seg:],
        "header_version": lambda b: b[:8] + struct.pack(">I", 2) + b[12:],
        "header_salt": lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:],
        "empty": lambda b: b"",
    }
    _tamper(storage, attachment, changes[how])
    with pytest.raises(files.AttachmentUnreadable):
        download(editor, attachment)
    event = last_event("attachment.unreadable")
    assert event is not None and event.target_id == str(attachment.pk)
    assert not AuditEvent.objects.filter(action="attachment.downloaded", target_id=str(attachment.pk)).exists()


def test_file_moved_to_another_attachment_does_not_decrypt(editor, att_record, storage):
    a = upload(editor, att_record, PDF)
    b = upload(editor, att_record, PDF + b"x")
    (storage / b.storage_name).write_bytes((storage / a.storage_name).read_bytes())
    with pytest.raises(files.AttachmentUnreadable):
        download(editor, b)


def test_missing_file_is_a_clear_error(editor, att_record, storage):
    attachment = upload(editor, att_record, PDF)
    (storage / attachment.storage_name).unlink()
    with pytest.raises(files.AttachmentUnreadable, match="missing"):
        download(editor, attachment)


# --- bad input -------------------------------------------------------------------------------

def test_empty_file_is_refused(editor, att_record, storage):
    with pytest.raises(ValidationError) as exc:
        upload(editor, att_record, b"")
    assert "file" in exc.value.message_dict
    assert not Attachment.objects.exists() and stored_files(storage) == []


def test_missing_file_is_refused(editor, att_record):
    with pytest.raises(ValidationError) as exc:
        upload_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, file=None, filename="")
    assert "file" in exc.value.message_dict


def test_disallowed_type_is_refused_whatever_the_name(editor, att_record, storage):
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 200
    with pytest.raises(ValidationError) as exc:
        upload(editor, att_record, elf, "innocent.pdf")
    assert "Accepted types" in exc.value.message_dict["file"][0]
    assert not Attachment.objects.exists() and stored_files(storage) == []


def test_type_comes_from_the_bytes_not_the_name(editor, att_record):
    assert upload(editor, att_record, PNG, "picture.pdf").content_type == "image/png"
    text = "品番,数量\r\nA-1,3\r\n".encode()
    assert upload(editor, att_record, text, "parts.exe").content_type == "text/plain"
    assert upload(editor, att_record, "品番,数量\r\n".encode("cp932"), "parts.csv").content_type == "text/plain"


def test_over_the_limit_is_refused_with_the_limit(editor, att_record, storage, settings):
    settings.MAMORI_ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(AttachmentTooLarge) as exc:
        upload(editor, att_record, big_bytes(1001))
    assert exc.value.limit == 1000 and "1000 bytes" in exc.value.message_text
    assert stored_files(storage) == []
    # A stream longer than it declared is cut off as well, and nothing stays behind.
    with pytest.raises(AttachmentTooLarge):
        upload_attachment(actor=Actor.for_user(editor), record_id=att_record.pk,
                          file=io.BytesIO(big_bytes(200_000)), filename="x.pdf", size=10)
    assert stored_files(storage) == [] and not Attachment.objects.exists()
    assert upload(editor, att_record, big_bytes(1000)).size == 1000


def test_tenant_admin_can_only_lower_the_limit(admin, editor, att_record, settings):
    settings.MAMORI_ATTACHMENT_MAX_BYTES = 5000
    with pytest.raises(ValidationError):
        set_attachment_limit(actor=Actor.for_user(admin), max_bytes=5001)
    set_attachment_limit(actor=Actor.for_user(admin), max_bytes=2000)
    assert last_event("attachment.limit_changed").after == {"max_bytes": 2000}
    with pytest.raises(AttachmentTooLarge) as exc:
        upload(editor, att_record, big_bytes(2001))
    assert exc.value.limit == 2000
    with pytest.raises(PermissionDenied):
        set_attachment_limit(actor=Actor.for_user(editor), max_bytes=100)
    for bad in (0, -1, "many"):
        with pytest.raises(ValidationError):
            set_attachment_limit(actor=Actor.for_user(admin), max_bytes=bad)


def test_provider_sets_the_tenant_ceiling(admin, editor, att_record, tenant, settings):
    from mamori.operations.actions import create_staff
    from mamori.records.actions_attachments import set_provider_attachment_limit
    from mamori.tenancy.context import use_tenant

    settings.MAMORI_ATTACHMENT_MAX_BYTES = 1000
    with use_tenant(None):
        staff = create_staff(actor=Actor.system("test"), email="ops@provider.example",
                             password="a long staff password 1")
        set_provider_attachment_limit(staff=staff, tenant=tenant, max_bytes=3000)
    assert upload(editor, att_record, big_bytes(2500)).size == 2500  # above the default, below the ceiling
    set_attachment_limit(actor=Actor.for_user(admin), max_bytes=3000)  # allowed up to the provider's value


def test_file_names_are_sanitised(editor, att_record):
    cases = {
        "../../etc/passwd": "passwd",
        "C:\\Users\\a\\見積書.pdf": "見積書.pdf",
        "invoice\u202egpj.exe": "invoicegpj.exe",
        "a\x00b\r\nc.pdf": "abc.pdf",
        "   ..hidden.pdf. ": "hidden.pdf",
        "": "attachment",
        "CON.pdf": "_CON.pdf",
        'x<>:"|?*.pdf': "x_______.pdf",
        "報告書　2026年\u200b.pdf": "報告書 2026年.pdf",
    }
    for raw, expected in cases.items():
        assert files.sanitize_filename(raw) == expected, raw
    long = "あ" * 300 + ".pdf"
    cleaned = files.sanitize_filename(long)
    assert len(cleaned) == files.MAX_FILENAME and cleaned.endswith(".pdf")
    assert upload(editor, att_record, PDF, "../見積\u202e書.pdf").filename == "見積書.pdf"


def test_content_disposition_is_rfc5987():
    header = files.content_disposition('見積書 "v2".pdf')
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8%20%22v2%22.pdf" in header
    assert '"v2"' not in header.split(";")[1]


# --- access follows the record -----------------------------------------------------------------

def test_viewer_reads_but_cannot_upload_or_delete(editor, viewer, att_record):
    attachment = upload(editor, att_record, PDF)
    assert download(viewer, attachment) == PDF
    with pytest.raises(PermissionDenied):
        upload(viewer, att_record, PDF)
    with pytest.raises(PermissionDenied):
        delete_attachment(actor=Actor.for_user(viewer), record_id=att_record.pk, attachment_id=attachment.pk)
    assert AuditEvent.objects.filter(action="access.denied", actor_id=str(viewer.pk)).count() == 2


def test_restricted_record_hides_its_attachments(admin, editor, viewer, att_record):
    from mamori.access.roles import Role

    attachment = upload(editor, att_record, PDF)
    actions.update_record(actor=Actor.for_user(editor), record_id=att_record.pk, classification="restricted")
    viewer.role = Role.REVIEWER  # reviewers may not open restricted records
    viewer.save()
    with pytest.raises(NotFound):
        download(viewer, attachment)
    assert download(admin, attachment) == PDF


def test_non_member_and_other_record_get_not_found(tenant, admin, editor, user_factory, att_record):
    from mamori.access.roles import Role

    attachment = upload(editor, att_record, PDF)
    stranger = user_factory(tenant, "stranger@acme.example", Role.EDITOR)
    with pytest.raises(NotFound):
        download(stranger, attachment)
    with pytest.raises(NotFound):
        upload(stranger, att_record, PDF)
    other = actions.create_record(actor=Actor.for_user(editor), workspace_id=att_record.workspace_id, title="B")
    with pytest.raises(NotFound):
        download_attachment(actor=Actor.for_user(editor), record_id=other.pk, attachment_id=attachment.pk)


def test_other_tenant_sees_nothing(editor, att_record, outsider, other_tenant):
    from mamori.tenancy.context import use_tenant

    attachment = upload(editor, att_record, PDF)
    with use_tenant(other_tenant), pytest.raises(NotFound):
        download_attachment(actor=Actor.for_user(outsider), record_id=att_record.pk, attachment_id=attachment.pk)


# --- audit and deletion ----------------------------------------------------------------------

def test_audit_events_name_the_file_but_hold_no_content(editor, att_record):
    secret_text = b"%PDF-1.4 TOP-SECRET-CONTENT"
    attachment = upload(editor, att_record, secret_text, "plan.pdf")
    download(editor, attachment)
    delete_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, attachment_id=attachment.pk)
    for action in ("attachment.uploaded", "attachment.downloaded", "attachment.deleted"):
        event = last_event(action)
        payload = repr((event.before, event.after))
        assert "plan.pdf" in payload and "TOP-SECRET" not in payload
        assert event.target_type == "records.attachment"


def test_delete_removes_the_file_on_commit(editor, att_record, storage, django_capture_on_commit_callbacks):
    attachment = upload(editor, att_record, PDF)
    path = storage / attachment.storage_name
    with django_capture_on_commit_callbacks(execute=True):
        delete_attachment(actor=Actor.for_user(editor), record_id=att_record.pk, attachment_id=attachment.pk)
    assert not Attachment.objects.exists() and not path.exists()


def test_deleting_the_record_deletes_its_files(editor, att_record, storage, django_capture_on_commit_callbacks):
    upload(editor, att_record, PDF)
    upload(editor, att_record, PNG, "p.png")
    assert len(stored_files(storage)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_record(actor=Actor.for_user(editor), record_id=att_record.pk)
    assert stored_files(storage) == []


def test_rolled_back_delete_keeps_the_file(editor, att_record, storage, django_capture_on_commit_callbacks):
    attachment = upload(editor, att_record, PDF)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                delete_attachment(actor=Actor.for_user(editor), record_id=att_record.pk,
                                  attachment_id=attachment.pk)
                raise RuntimeError("abort")
        except RuntimeError:
            pass
    assert callbacks == [] and (storage / attachment.storage_name).exists()
    assert download(editor, attachment) == PDF


def test_disk_full_leaves_nothing(editor, att_record, settings, tmp_path):
    """A storage that runs out of space half-way: no row, no partial file, the error surfaces."""
    root = tmp_path / "small-disk"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "tests.records.conftest.SmallDiskStorage",
        "OPTIONS": {"location": str(root), "quota": 3 * files.SEGMENT_SIZE}}}
    with pytest.raises(OSError, match="No space"):
        upload(editor, att_record, big_bytes(5 * files.SEGMENT_SIZE))
    assert stored_files(root) == [] and not Attachment.objects.exists()
    assert upload(editor, att_record, PDF).size == len(PDF)  # small files still fit
