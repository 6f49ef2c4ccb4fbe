"""Attachment files: streamed encryption with the tenant's data key, type sniffing, safe names.

Storage. Every file lives in Django's default storage (local files, or S3-compatible by
configuration) at ``tenant_storage_prefix(tenant_id) + "attachments/<uuid>"`` (``<uuid>.v<N>``
once a tenant key rotation has re-encrypted it with data key version N), so the purge of a
tenant removes it with everything else of the tenant.

Key rotation. ``reencrypt_tenant_files`` (a hook of ``mamori keys rotate-tenant``) re-encrypts
every file still on an older data key: it streams the old file through decryption into a new
file under a new name, switches the row to the new file in a short transaction, and deletes the
old file once that commits. An interruption at any point leaves every row pointing at a
complete file; the next run removes the leftovers of the interrupted one and continues.

Format (``MMRATT01``), constant memory both ways::

    header  = "MMRATT01" | key version (u32) | segment size (u32) | salt (32 random bytes)
    segment = AES-256-GCM(file key, nonce = segment index (96-bit), plaintext[i*64 KiB : …])

The file key is derived (HKDF-SHA256, ``keys.derive_tenant_key``) from the tenant's data key
(DEK) with the salt, the tenant id and the attachment's identity (``records.attachment:<uuid>``),
so every file has its own key and nonces never repeat under one key. Each segment's
associated data binds the tenant id, the object identity, the header, the segment index and a
final flag: a segment moved, reordered, dropped, appended or cut off, a header changed, a file
moved to another attachment or tenant — all fail to decrypt (``AttachmentUnreadable``).
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import struct
import unicodedata
import uuid as uuid_lib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote

import filetype
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.lifecycle.keys import DecryptionError, derive_tenant_key
from mamori.lifecycle.walk import tenant_storage_prefix

MAGIC = b"MMRATT01"
HEADER = struct.Struct(">8sII32s")  # magic, key version, segment size, salt
SEGMENT_SIZE = 64 * 1024
TAG_BYTES = 16
MAX_SEGMENT_SIZE = 4 * 1024 * 1024
MAX_FILENAME = 200
PURPOSE_PREFIX = "records.attachment:"
# Hard ceiling for any limit the provider sets (one upload is still streamed, but a limit
# beyond this is more likely a typo than a plan).
ABSOLUTE_MAX_BYTES = 5 * 1024 * 1024 * 1024
logger = logging.getLogger("mamori.records.attachments")


class AttachmentUnreadable(Exception):
    """The stored file is missing, modified, truncated, or its key is gone."""


# --- identity and storage names ------------------------------------------------------------

def purpose_for(object_uuid) -> str:
    return f"{PURPOSE_PREFIX}{object_uuid}"


def storage_name_for(tenant_id: int, object_uuid) -> str:
    return f"{tenant_storage_prefix(tenant_id)}attachments/{object_uuid}"


def _segment_aad(tenant_id: int, object_uuid, header: bytes, index: int, final: bool) -> bytes:
    return (f"mamori/att1|tenant={int(tenant_id)}|object={purpose_for(object_uuid)}|seg={index}|"
            f"final={int(final)}|").encode() + header


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def read_full(stream: IO[bytes], size: int) -> bytes:
    """Read exactly ``size`` bytes unless the stream ends first."""
    parts, remaining = [], size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


# --- encryption (upload) ----------------------------------------------------------------

class EncryptingReader(io.RawIOBase):
    """A read-only stream of the encrypted form of ``source`` (read in segments, never whole)."""

    def __init__(self, source: IO[bytes], *, tenant_id: int, object_uuid, segment_size: int = SEGMENT_SIZE,
                 key_version: int | None = None):
        super().__init__()
        salt = os.urandom(32)
        self.key_version, key = derive_tenant_key(tenant_id, purpose=purpose_for(object_uuid), salt=salt,
                                                  version=key_version)
        self.header = HEADER.pack(MAGIC, self.key_version, segment_size, salt)
        self._aead = AESGCM(key)
        self._tenant_id, self._uuid, self._segment_size = int(tenant_id), object_uuid, segment_size
        self._source = source
        self._pending = bytearray(self.header)
        self._next = read_full(source, segment_size)
        self._index = 0
        self._done = False
        self.plaintext_size = 0

    def readable(self) -> bool:
        return True

    def _encrypt_next(self) -> None:
        current = self._next
        self._next = read_full(self._source, self._segment_size) if len(current) == self._segment_size else b""
        final = not self._next
        aad = _segment_aad(self._tenant_id, self._uuid, self.header, self._index, final)
        self._pending += self._aead.encrypt(_nonce(self._index), current, aad)
        self.plaintext_size += len(current)
        self._index += 1
        self._done = final

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            self._encrypt_next()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        del self._pending[:n]
        return n


def encrypted_size(plaintext_size: int, segment_size: int = SEGMENT_SIZE) -> int:
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER.size + plaintext_size + segments * TAG_BYTES


@dataclass(frozen=True)
class StoredFile:
    storage_name: str
    key_version: int
    size: int


def store_encrypted(tenant_id: int, object_uuid, source: IO[bytes]) -> StoredFile:
    """Encrypt ``source`` (read from its current position) into the default storage.

    On any failure (disk full, storage error) the partial file is removed and the error raised.
    """
    target = storage_name_for(tenant_id, object_uuid)
    reader = EncryptingReader(source, tenant_id=tenant_id, object_uuid=object_uuid)
    try:
        name = default_storage.save(target, File(io.BufferedReader(reader, SEGMENT_SIZE), name=target))
    except BaseException:
        delete_quietly(target)
        raise
    return StoredFile(name, reader.key_version, reader.plaintext_size)


def delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception as exc:  # noqa: BLE001 - best effort cleanup; the original error is what matters
        logger.warning("could not remove attachment file %s: %s", name, type(exc).__name__)


# --- decryption (download, export) ---------------------------------------------------------

@dataclass(frozen=True)
class OpenedFile:
    """A verified-to-exist, header-parsed encrypted file ready to decrypt."""

    storage_name: str
    tenant_id: int
    object_uuid: uuid_lib.UUID
    header: bytes
    segment_size: int
    aead: AESGCM


def prepare(tenant_id: int, object_uuid, storage_name: str) -> OpenedFile:
    """Read the header and derive the file key (needs the tenant's context)."""
    try:
        with default_storage.open(storage_name, "rb") as stream:
            header = read_full(stream, HEADER.size)
    except (FileNotFoundError, OSError):
        raise AttachmentUnreadable(_("The stored file is missing.")) from None
    if len(header) != HEADER.size:
        raise AttachmentUnreadable(_("The stored file is truncated."))
    magic, version, segment_size, salt = HEADER.unpack(header)
    if magic != MAGIC or not 0 < segment_size <= MAX_SEGMENT_SIZE or version < 1:
        raise AttachmentUnreadable(_("The stored file is not an encrypted attachment."))
    try:
        _version, key = derive_tenant_key(tenant_id, purpose=purpose_for(object_uuid), salt=salt, version=version)
    except DecryptionError:
        raise AttachmentUnreadable(_("The key of the stored file is not available (destroyed?).")) from None
    return OpenedFile(storage_name, int(tenant_id), object_uuid, header, segment_size, AESGCM(key))


def decrypt_segments(opened: OpenedFile) -> Iterator[bytes]:
    """Yield the plaintext segment by segment; ``AttachmentUnreadable`` at the first bad one.

    Needs no database access (safe in a streaming response after the request's transaction).
    """
    block = opened.segment_size + TAG_BYTES
    try:
        stream = default_storage.open(opened.storage_name, "rb")
    except (FileNotFoundError, OSError):
        raise AttachmentUnreadable(_("The stored file is missing.")) from None
    with stream:
        if read_full(stream, HEADER.size) != opened.header:
            raise AttachmentUnreadable(_("The stored file was modified."))
        current = read_full(stream, block)
        index = 0
        while True:
            following = read_full(stream, block) if len(current) == block else b""
            final = not following
            if len(current) < TAG_BYTES:
                raise AttachmentUnreadable(_("The stored file is truncated."))
            aad = _segment_aad(opened.tenant_id, opened.object_uuid, opened.header, index, final)
            try:
                yield opened.aead.decrypt(_nonce(index), current, aad)
            except InvalidTag:
                raise AttachmentUnreadable(_("The stored file was modified or truncated; it cannot be "
                                             "decrypted.")) from None
            if final:
                return
            current, index = following, index + 1


def verify(opened: OpenedFile) -> int:
    """Decrypt the whole file without keeping it; the plaintext size. Raises ``AttachmentUnreadable``."""
    return sum(len(part) for part in decrypt_segments(opened))


class DecryptingReader(io.RawIOBase):
    """A readable stream of the plaintext (for the export and the per-tenant backup)."""

    def __init__(self, opened: OpenedFile):
        super().__init__()
        self._segments = decrypt_segments(opened)
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            try:
                self._pending = next(self._segments)
            except StopIteration:
                self._done = True
            except AttachmentUnreadable as exc:
                raise OSError(str(exc)) from exc
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._segments.close()
        super().close()


def open_plaintext(attachment) -> IO[bytes]:
    """The decrypted bytes of an attachment as a stream (call inside the tenant's context)."""
    opened = prepare(attachment.tenant_id, attachment.uuid, attachment.storage_name)
    return io.BufferedReader(DecryptingReader(opened), SEGMENT_SIZE)


def delete_file_on_commit(tenant_id: int, storage_name: str) -> None:
    """Remove a stored file once the transaction that deleted its row commits, unless a row
    (e.g. one restored in place in the same transaction) refers to it again."""

    def _delete() -> None:
        if not _still_referenced(tenant_id, storage_name):
            delete_quietly(storage_name)

    transaction.on_commit(_delete)


def _still_referenced(tenant_id: int, storage_name: str) -> bool:
    """Does a row of the tenant point at this file? Asked in the tenant's context, so that
    row-level security on PostgreSQL answers for the right tenant."""
    from mamori.records.models import Attachment
    from mamori.tenancy.context import NoTenantError, current_tenant, tenant_context
    from mamori.tenancy.models import Tenant

    active = current_tenant()
    query = Attachment.objects_across_tenants.filter(tenant_id=tenant_id, storage_name=storage_name)
    if active is not None and active.pk == tenant_id:
        return query.exists()
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return False
    try:
        with tenant_context(tenant):
            return query.exists()
    except NoTenantError:  # another tenant's context is open: the row was deleted, so is the file
        return False


# --- content type -------------------------------------------------------------------------

TEXT_PLAIN = "text/plain"
_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def detect_content_type(head: bytes, *, complete: bool) -> str | None:
    """The media type of a file from its first bytes (``complete``: ``head`` is the whole file).

    Binary formats by their signature (``filetype``); otherwise text (UTF-8, or Shift_JIS as
    Japanese spreadsheets export it) without control characters is ``text/plain``; else None.
    """
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if not head or _TEXT_CONTROLS.search(head):
        return None
    for encoding in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
        except UnicodeDecodeError:
            continue
        return TEXT_PLAIN
    return None


def allowed_types() -> list[str]:
    return list(getattr(settings, "MAMORI_ATTACHMENT_TYPES", []))


# --- file names -----------------------------------------------------------------------------

_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE_CHARS = re.compile(r'[<>:"|?*\\/]')


def sanitize_filename(name: str, *, fallback: str = "attachment") -> str:
    """A file name safe to store and to offer for download.

    Keeps only the last path part; removes control, format (bidi overrides, zero-width) and
    separator characters; replaces characters Windows forbids; trims dots and spaces; limits the
    length (keeping the extension). Japanese and other letters are kept (NFC-normalised).
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    name = _UNSAFE_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        name = fallback
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            name = stem[:MAX_FILENAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME].rstrip(" .")
    return name


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback ``filename`` and the exact RFC 5987 ``filename*``."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in filename) or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_headers(attachment) -> dict[str, str]:
    return {
        "Content-Type": attachment.content_type or "application/octet-stream",
        "Content-Disposition": content_disposition(attachment.filename),
        "Content-Length": str(attachment.size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }


# --- stopping oversized uploads early ----------------------------------------------------

class LimitedUploadHandler(FileUploadHandler):
    """First upload handler of an attachment upload: once a file passes ``limit`` bytes the
    upload stops (the rest of the body is read and discarded: nothing more reaches memory or
    disk) and ``exceeded`` is set, so the view answers 413 instead of "no file"."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def install_upload_limit(request, limit: int) -> LimitedUploadHandler | None:
    """Put a ``LimitedUploadHandler`` in front of the request's handlers (before the body is read)."""
    handler = LimitedUploadHandler(request, limit=limit)
    try:
        request.upload_handlers = [handler, *request.upload_handlers]
    except AttributeError:  # the body was already parsed: the size check after the fact still applies
        return None
    request._attachment_limit_handler = handler
    return handler


# --- the tenant's files for the export, the per-tenant backup and the purge ---------------

def remove_file_of_deleted_row(sender, instance, **kwargs) -> None:
    """``post_delete`` receiver: the file goes when the deleting transaction commits."""
    if instance.storage_name:
        delete_file_on_commit(instance.tenant_id, instance.storage_name)


def archive_name(attachment) -> str:
    return f"attachments/{attachment.record_id}/{attachment.pk}-{attachment.filename}"


def tenant_files(tenant_id: int) -> Iterator:
    """Every attachment of the tenant as a ``TenantFile`` (call inside ``tenant_context``)."""
    from functools import partial

    from mamori.lifecycle.walk import TenantFile
    from mamori.records.models import Attachment

    rows = Attachment._base_manager.filter(tenant_id=tenant_id).order_by("pk")
    for attachment in rows.iterator(chunk_size=500):
        yield TenantFile(archive_name=archive_name(attachment), owner_label=Attachment._meta.label,
                         owner_pk=attachment.pk, size=attachment.size, open=partial(open_plaintext, attachment))


def restore_file(row, stream: IO[bytes]) -> None:
    """Store the plaintext of a restored attachment row again, encrypted with the key of the
    row's tenant (which may be a new tenant), and point the row at it."""
    from mamori.records.models import Attachment

    stored = store_encrypted(row.tenant_id, row.uuid, stream)
    Attachment._base_manager.filter(pk=row.pk).update(
        storage_name=stored.storage_name, key_version=stored.key_version, size=stored.size)
    row.storage_name, row.key_version, row.size = stored.storage_name, stored.key_version, stored.size


# --- tenant key rotation: re-encrypt the files with the active data key ---------------------

REENCRYPT_BATCH = 100
_STORED_NAME = re.compile(r"^(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                          r"(?:\.v[1-9][0-9]{0,8})?$")


def rotated_storage_name(tenant_id: int, object_uuid, version: int) -> str:
    """Where the file of an attachment re-encrypted with data key ``version`` is stored."""
    return f"{storage_name_for(tenant_id, object_uuid)}.v{int(version)}"


def remaining_on_old_keys(tenant_id: int, active_version: int) -> int:
    """Attachments of the tenant whose file is not on ``active_version`` (inside the tenant's context)."""
    from mamori.records.models import Attachment

    return Attachment._base_manager.filter(tenant_id=tenant_id).exclude(key_version=active_version).count()


def _active_version() -> int:
    from mamori.lifecycle.models import TenantDataKey

    return TenantDataKey.objects.get(state=TenantDataKey.State.ACTIVE).version


def _discard_if_unreferenced(tenant, object_uuid, name: str) -> bool:
    """Delete ``name`` if the tenant's attachment ``object_uuid`` exists and points at another
    file. The row stays locked meanwhile, so a concurrent switch to ``name`` cannot interleave."""
    from mamori.records.models import Attachment
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        current = (Attachment._base_manager.select_for_update().filter(tenant_id=tenant.pk, uuid=object_uuid)
                   .values_list("storage_name", flat=True).first())
        if current is None or current == name or not default_storage.exists(name):
            return False
        default_storage.delete(name)
    return True


def sweep_rotation_leftovers(tenant) -> int:
    """Remove files an interrupted rotation left behind: a new file whose row was never switched
    to it, or an old file whose deletion did not happen. Only names of the form ``<uuid>`` or
    ``<uuid>.v<N>`` whose attachment row exists and points elsewhere are touched (a file being
    uploaded has no row yet). Returns how many files were removed."""
    from mamori.records.models import Attachment
    from mamori.tenancy.context import tenant_context

    prefix = f"{tenant_storage_prefix(tenant.pk)}attachments/"
    try:
        _dirs, names = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    by_uuid: dict[uuid_lib.UUID, list[str]] = {}
    for name in names:
        match = _STORED_NAME.match(name)
        if match:
            by_uuid.setdefault(uuid_lib.UUID(match["uuid"]), []).append(prefix + name)
    candidates: list[tuple[uuid_lib.UUID, str]] = []
    uuids = list(by_uuid)
    for start in range(0, len(uuids), 500):
        chunk = uuids[start:start + 500]
        with tenant_context(tenant):
            current = dict(Attachment._base_manager.filter(tenant_id=tenant.pk, uuid__in=chunk)
                           .values_list("uuid", "storage_name"))
        for object_uuid in chunk:
            if object_uuid in current:
                candidates += [(object_uuid, n) for n in by_uuid[object_uuid] if n != current[object_uuid]]
    return sum(_discard_if_unreferenced(tenant, object_uuid, name) for object_uuid, name in candidates)


def _write_reencrypted(tenant_id: int, row: dict, target: str, version: int) -> tuple[str, int]:
    """Stream the old file through decryption into a new file encrypted with ``version``;
    ``(storage name, plaintext size)``. Constant memory (one segment at a time)."""
    opened = prepare(tenant_id, row["uuid"], row["storage_name"])
    plaintext = io.BufferedReader(DecryptingReader(opened), SEGMENT_SIZE)
    try:
        reader = EncryptingReader(plaintext, tenant_id=tenant_id, object_uuid=row["uuid"], key_version=version)
        name = default_storage.save(target, File(io.BufferedReader(reader, SEGMENT_SIZE), name=target))
    except BaseException as exc:
        delete_quietly(target)
        if isinstance(exc, OSError) and isinstance(exc.__cause__, AttachmentUnreadable):
            raise exc.__cause__ from None
        raise
    finally:
        plaintext.close()
    return name, reader.plaintext_size


def _switch(tenant, row: dict, new_name: str, version: int, plaintext_size: int) -> bool:
    """Point the row at the new file (short transaction, row locked); the old file is deleted
    once this commits. False (and the new file removed) if the row changed meanwhile."""
    from mamori.records.models import Attachment
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        rows = Attachment._base_manager.select_for_update().filter(tenant_id=tenant.pk, pk=row["pk"])
        current = rows.values_list("storage_name", "key_version").first()
        try:
            complete = default_storage.size(new_name) == encrypted_size(plaintext_size)
        except OSError:
            complete = False
        switched = current == (row["storage_name"], row["key_version"]) and complete
        if switched:
            rows.update(storage_name=new_name, key_version=version)
            delete_file_on_commit(tenant.pk, row["storage_name"])
    if not switched and (current is None or current[0] != new_name):
        delete_quietly(new_name)
    return switched


def reencrypt_file(tenant, pk: int, version: int) -> bool:
    """Re-encrypt one attachment's file with data key ``version`` (the active one); True when
    the row now points at the new file. ``AttachmentUnreadable`` when the old file cannot be
    decrypted (missing, modified) — nothing is changed then."""
    from mamori.records.models import Attachment
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        row = (Attachment._base_manager.filter(tenant_id=tenant.pk, pk=pk)
               .values("pk", "uuid", "storage_name", "key_version", "size").first())
    if row is None or row["key_version"] == version:
        return False
    target = rotated_storage_name(tenant.pk, row["uuid"], version)
    if default_storage.exists(target):
        _discard_if_unreferenced(tenant, row["uuid"], target)  # left by an interrupted run
    new_name, plaintext_size = _write_reencrypted(tenant.pk, row, target, version)
    if plaintext_size != row["size"]:
        delete_quietly(new_name)
        raise AttachmentUnreadable(_("The stored file does not have the recorded size."))
    return _switch(tenant, row, new_name, version, plaintext_size)


def reencrypt_tenant_files(tenant_id: int, _reencrypt=None, *, batch_size: int = REENCRYPT_BATCH) -> int:
    """Tenant rotation hook: re-encrypt every attachment file of the tenant that is not on the
    active data key; return how many. Resumable: run it again after any interruption.

    A file that cannot be decrypted is left as it is (logged with the attachment's id, never
    its name or content); its row keeps the old version, so finishing the rotation is refused
    until the attachment is deleted."""
    from mamori.records.models import Attachment
    from mamori.tenancy.context import tenant_context
    from mamori.tenancy.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    removed = sweep_rotation_leftovers(tenant)
    done = unreadable = 0
    last_pk = 0
    while True:
        with tenant_context(tenant):
            version = _active_version()
            pks = list(Attachment._base_manager.filter(tenant_id=tenant.pk, pk__gt=last_pk)
                       .exclude(key_version=version).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        for pk in pks:
            try:
                done += reencrypt_file(tenant, pk, version)
            except AttachmentUnreadable:
                unreadable += 1
                logger.warning("attachment %s of tenant %s is unreadable; not re-encrypted", pk, tenant.pk)
        last_pk = pks[-1]
    removed += sweep_rotation_leftovers(tenant)
    logger.info("tenant %s: %d attachment files re-encrypted, %d unreadable, %d leftover files removed",
                tenant.pk, done, unreadable, removed)
    return done
