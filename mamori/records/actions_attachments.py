"""State changes (and the audited read) for record attachments.

Access follows the record: whoever may not open the record gets ``NotFound`` for its
attachments; uploading and deleting need ``records.edit`` like editing the record. Audit
events carry the file name, type and size — never the content or key material.
"""

from __future__ import annotations

import uuid as uuid_lib
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mamori.access.roles import Perm
from mamori.accounts.actions import require
from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.core.actions import AuditedRefusal, action
from mamori.records import attachments as files
from mamori.records import scanning
from mamori.records.models import Attachment, AttachmentPolicy
from mamori.records.queries import (
    access_attachment,
    access_record,
    attachment_limits,
    attachment_policy,
)
from mamori.tenancy.context import require_tenant, tenant_context


def human_size(size: int) -> str:
    """1 KB = 1024 bytes, as operating systems show sizes."""
    if size >= 1024 * 1024 * 1024:
        return _("%(n)s GB") % {"n": _fmt(size / (1024 ** 3))}
    if size >= 1024 * 1024:
        return _("%(n)s MB") % {"n": _fmt(size / (1024 ** 2))}
    if size >= 1024:
        return _("%(n)s KB") % {"n": _fmt(size / 1024)}
    return _("%(n)d bytes") % {"n": size}


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


class AttachmentTooLarge(ValidationError):
    """The file is over the tenant's limit (the console shows it on the field; the API answers 413)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.message_text = _("The file is larger than the limit of %(limit)s (%(bytes)d bytes).") % {
            "limit": human_size(limit), "bytes": limit}
        super().__init__({"file": self.message_text})


class _TooLarge(Exception):
    pass


class _LimitedReader:
    """Reads ``source`` and refuses to go past ``limit`` bytes (for streams of unknown size)."""

    def __init__(self, source: IO[bytes], limit: int):
        self._source, self._limit, self.count = source, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.count += len(data)
        if self.count > self._limit:
            raise _TooLarge
        return data


def _describe(attachment: Attachment) -> dict:
    return {"record": attachment.record_id, "filename": attachment.filename,
            "content_type": attachment.content_type, "size": attachment.size}


def _type_names() -> str:
    return ", ".join(files.allowed_types())


@action
def upload_attachment(*, actor: Actor, record_id: int, file: IO[bytes] | None, filename: str = "",
                      size: int | None = None, exceeded: bool = False) -> Attachment:
    """Store ``file`` encrypted as a new attachment of the record.

    ``size`` is the declared size when known (Django uploads know it); the stream is also
    counted, so a stream that is longer than declared is refused too. Refusals: no file, empty,
    over the limit (``AttachmentTooLarge``; ``exceeded``: the transport already stopped reading
    a file over the limit), a type not on the allowlist. Nothing is stored then.
    """
    record = access_record(actor.user, record_id)
    require(actor, Perm.EDIT_RECORDS)
    limit = attachment_limits()["effective"]
    if exceeded:
        raise AttachmentTooLarge(limit)
    if file is None:
        raise ValidationError({"file": _("Choose a file to upload.")})
    if size is not None and size > limit:
        raise AttachmentTooLarge(limit)
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    if hasattr(file, "seek"):
        file.seek(0)
    head = files.read_full(file, files.SEGMENT_SIZE)
    if not head:
        raise ValidationError({"file": _("The file is empty.")})
    content_type = files.detect_content_type(head, complete=len(head) < files.SEGMENT_SIZE)
    if content_type is None or content_type not in files.allowed_types():
        raise ValidationError({"file": _(
            "This type of file is not accepted (the type is read from the content, not the name). "
            "Accepted types: %(types)s.") % {"types": _type_names()}})
    if hasattr(file, "seek"):
        file.seek(0)
        source = file
    else:  # a one-way stream: put the head back in front
        source = _Prefixed(head, file)
    object_uuid = uuid_lib.uuid4()
    tenant = require_tenant()
    limited = _LimitedReader(source, limit)
    scan = _open_scan()  # the malware scanner, when one is configured (mamori.records.scanning)
    try:
        stored = files.store_encrypted(
            tenant.pk, object_uuid, scanning.ScanningReader(limited, scan) if scan else limited)
    except _TooLarge:
        _close(scan)
        raise AttachmentTooLarge(limit) from None
    except scanning.ScanUnavailable as exc:
        _close(scan)
        raise _scan_unavailable(exc) from None
    except BaseException:
        _close(scan)
        raise
    if scan is not None:
        _check_verdict(scan, stored, actor=actor, record=record, filename=filename, content_type=content_type)
    try:
        attachment = Attachment.objects.create(
            uuid=object_uuid, record=record, filename=files.sanitize_filename(filename),
            content_type=content_type, size=stored.size, storage_name=stored.storage_name,
            key_version=stored.key_version, uploaded_by=actor.user)
        record_event("attachment.uploaded", actor=actor, target=attachment, after=_describe(attachment))
    except BaseException:
        files.delete_quietly(stored.storage_name)
        raise
    return attachment


def _open_scan():
    scanner = scanning.configured_scanner()
    if scanner is None:
        return None
    try:
        return scanner.open()
    except scanning.ScanUnavailable as exc:
        raise _scan_unavailable(exc) from None


def _close(scan) -> None:
    if scan is not None:
        scan.close()


def _scan_unavailable(exc) -> ValidationError:
    scanning.log_unavailable(exc)
    return ValidationError({"file": _("The file could not be checked for malware, so it was not stored. "
                                      "Try again later; if this goes on, tell the service provider.")})


def _check_verdict(scan, stored, *, actor: Actor, record, filename: str, content_type: str) -> None:
    """Nothing is kept unless the scanner called the file clean (the stored copy is removed)."""
    try:
        found = scan.verdict()
    except scanning.ScanUnavailable as exc:
        files.delete_quietly(stored.storage_name)
        raise _scan_unavailable(exc) from None
    if found is None:
        return
    files.delete_quietly(stored.storage_name)
    raise AuditedRefusal(
        {"file": _("The file was refused: the malware scanner found “%(name)s” in it. It was not "
                   "stored.") % {"name": found}},
        event="attachment.malware_refused", actor=actor, target=record,
        after={"filename": files.sanitize_filename(filename), "content_type": content_type,
               "size": stored.size, "malware": found})


class _Prefixed:
    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                more = self._rest.read(-1 if size < 0 else size - len(head))
                return head + more
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._rest.read(size)


@action
def delete_attachment(*, actor: Actor, record_id: int, attachment_id: int) -> None:
    """Delete the attachment; its file is removed when the transaction commits."""
    attachment = access_attachment(actor.user, record_id, attachment_id)
    require(actor, Perm.EDIT_RECORDS)
    record_event("attachment.deleted", actor=actor, target=attachment, before=_describe(attachment))
    attachment.delete()  # the post_delete receiver removes the file on commit


@dataclass(frozen=True)
class Download:
    attachment: Attachment
    opened: files.OpenedFile

    def chunks(self):
        """The plaintext, segment by segment (needs no database; verified before)."""
        return files.decrypt_segments(self.opened)

    @property
    def headers(self) -> dict[str, str]:
        return files.download_headers(self.attachment)


@dataclass(frozen=True)
class _Unreadable:
    message: str


@action
def open_attachment(*, actor: Actor, record_id: int, attachment_id: int) -> Download | _Unreadable:
    attachment = access_attachment(actor.user, record_id, attachment_id)
    try:
        opened = files.prepare(attachment.tenant_id, attachment.uuid, attachment.storage_name)
        size = files.verify(opened)
        if size != attachment.size:
            raise files.AttachmentUnreadable(_("The stored file does not have the recorded size."))
    except files.AttachmentUnreadable as exc:
        record_event("attachment.unreadable", actor=actor, target=attachment,
                     after={**_describe(attachment), "reason": str(exc)})
        return _Unreadable(str(exc))
    record_event("attachment.downloaded", actor=actor, target=attachment, after=_describe(attachment))
    return Download(attachment, opened)


def download_attachment(*, actor: Actor, record_id: int, attachment_id: int) -> Download:
    """Open an attachment for download: the whole file is decrypted and checked first (constant
    memory), so a modified or truncated file is refused (``AttachmentUnreadable``, audited)
    before any byte is sent. The download itself is audited (a sensitive read)."""
    result = open_attachment(actor=actor, record_id=record_id, attachment_id=attachment_id)
    if isinstance(result, _Unreadable):
        raise files.AttachmentUnreadable(result.message)
    return result


# --- limits ---------------------------------------------------------------------------------

def _clean_limit(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: _("Enter a whole number of bytes.")}) from None
    if value < 1:
        raise ValidationError({field: _("The limit must be at least 1 byte.")})
    if value > files.ABSOLUTE_MAX_BYTES:
        raise ValidationError({field: _("The limit can be at most %(limit)s.") % {
            "limit": human_size(files.ABSOLUTE_MAX_BYTES)}})
    return value


def _policy_for_update() -> AttachmentPolicy:
    policy = AttachmentPolicy.objects.select_for_update().first()
    if policy is None:
        policy = AttachmentPolicy.objects.create()
    return policy


@action
def set_attachment_limit(*, actor: Actor, max_bytes: int | None) -> AttachmentPolicy:
    """A tenant admin lowers the tenant's size limit (None: the provider's limit applies)."""
    require_tenant()
    require(actor, Perm.MANAGE_SECURITY)
    max_bytes = _clean_limit(max_bytes, "max_bytes")
    policy = _policy_for_update()
    ceiling = attachment_limits(policy)["provider"]
    if max_bytes is not None and max_bytes > ceiling:
        raise ValidationError({"max_bytes": _("The limit can only be lowered: at most %(limit)s (%(bytes)d "
                                              "bytes), the provider's limit.") % {
            "limit": human_size(ceiling), "bytes": ceiling}})
    before = {"max_bytes": policy.max_bytes}
    policy.max_bytes = max_bytes
    policy.save()
    if before["max_bytes"] != max_bytes:
        record_event("attachment.limit_changed", actor=actor, target=("records.attachmentpolicy", policy.pk,
                                                                      "attachments"),
                     before=before, after={"max_bytes": max_bytes})
    return policy


@action
def set_provider_attachment_limit(*, staff, tenant, max_bytes: int | None) -> AttachmentPolicy:
    """Provider staff set the tenant's ceiling (None: the provider default). A tenant limit above
    the new ceiling no longer applies (the lower of the two always wins)."""
    from mamori.access.errors import PermissionDenied

    if staff is None or not getattr(staff, "is_active", False) or staff.role not in ("operator", "security_officer"):
        raise PermissionDenied("provider.attachment_limit", actor=None)
    max_bytes = _clean_limit(max_bytes, "max_bytes")
    actor = Actor.for_staff(staff)
    with tenant_context(tenant):
        policy = _policy_for_update()
        before = {"provider_max_bytes": policy.provider_max_bytes}
        policy.provider_max_bytes = max_bytes
        policy.save()
        details = {"provider_max_bytes": max_bytes, "staff": staff.email}
        record_event("attachment.limit_changed", actor=actor, target=("records.attachmentpolicy", policy.pk,
                                                                      "attachments"),
                     before=before, after=details)
    record_provider_event("attachment.provider_limit_changed", actor=actor, tenant_ref=tenant.pk,
                          target=("tenancy.tenant", tenant.pk, tenant.slug), before=before, after=details)
    return policy


__all__ = ["AttachmentTooLarge", "Download", "attachment_policy", "delete_attachment", "download_attachment",
           "human_size", "set_attachment_limit", "set_provider_attachment_limit", "upload_attachment"]
