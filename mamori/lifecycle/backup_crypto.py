"""The backup key and the streamed encryption of system backups.

The backup key is 32 random bytes, base64, from ``MAMORI_BACKUP_KEY_FILE`` (preferred) or
``MAMORI_BACKUP_KEY``. In the development profile, when neither is set, it is generated once
as ``MAMORI_DATA_DIR/keys/backup.key`` (mode 0600), like the master key. It is a different
key from the master key: a stolen backup file alone is unreadable, and a stolen backup key
alone opens no live data.

File format (``MMBAK001``), built for constant memory and for detecting any change::

    header  = b"MMBAK001" || key_id (16 ASCII hex) || salt (32 bytes) || chunk size (4 bytes BE)
    chunk_i = flags_and_length (4 bytes BE: bit 31 = final chunk, bits 0-30 = ciphertext length)
              || AES-256-GCM(file_key, nonce = i as 12 bytes BE, plaintext_i,
                             aad = header || i (8 bytes BE) || final (1 byte))

``file_key`` = HKDF-SHA256(backup key, salt, "mamori-backup-file-v1"): every file has its own
key, so counter nonces never repeat. The chunk index and the final flag are authenticated,
so reordered, dropped or appended chunks and a file cut after any chunk fail to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mamori.core.env import read_secret

MAGIC = b"MMBAK001"
KEY_BYTES = 32
SALT_BYTES = 32
CHUNK_SIZE = 1024 * 1024
TAG_BYTES = 16
DEV_KEY_NAME = "backup.key"
_FINAL = 0x80000000
_HEADER = struct.Struct(">8s16s32sI")
HEADER_SIZE = _HEADER.size


class BackupKeyError(ImproperlyConfigured):
    """The backup key is missing, malformed, or not the key a backup was written with."""


class BackupCorrupt(ValueError):
    """The backup file is truncated, modified, or not a Mamori backup."""


@dataclass(frozen=True)
class BackupKey:
    key: bytes
    source: str

    @property
    def key_id(self) -> str:
        return key_id_for(self.key)

    def __repr__(self) -> str:  # never show key material
        return f"<BackupKey {self.key_id} from {self.source}>"

    def derive(self, purpose: bytes, salt: bytes = b"") -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt or None, info=purpose).derive(self.key)

    def manifest_mac(self, body: bytes) -> str:
        return hmac.new(self.derive(b"mamori-backup-manifest-v1"), body, hashlib.sha256).hexdigest()


def key_id_for(key: bytes) -> str:
    return hashlib.sha256(b"mamori-backup-key-id\x00" + key).hexdigest()[:16]


def generate_backup_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_backup_key(text: str, source: str) -> BackupKey:
    raw = (text or "").strip()
    try:
        key = base64.b64decode(raw.replace("-", "+").replace("_", "/") + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BackupKeyError(f"{source} is not base64 (expected base64 of {KEY_BYTES} random bytes, "
                             "e.g. `openssl rand -base64 32`).") from None
    if len(key) != KEY_BYTES:
        raise BackupKeyError(f"{source} decodes to {len(key)} bytes; the backup key must be {KEY_BYTES} bytes "
                             "(`openssl rand -base64 32`).")
    return BackupKey(key, source)


def dev_key_path() -> Path:
    return Path(settings.DATA_DIR) / "keys" / DEV_KEY_NAME


def load_backup_key() -> BackupKey:
    """The configured backup key; ``BackupKeyError`` naming the variable when it is unusable."""
    try:
        text = read_secret("MAMORI_BACKUP_KEY")
    except RuntimeError as exc:
        raise BackupKeyError(str(exc)) from None
    if text:
        source = "MAMORI_BACKUP_KEY_FILE" if os.environ.get("MAMORI_BACKUP_KEY_FILE") else "MAMORI_BACKUP_KEY"
        return parse_backup_key(text, source)
    if getattr(settings, "PRODUCTION", False):
        raise BackupKeyError("No backup key: set MAMORI_BACKUP_KEY_FILE (or MAMORI_BACKUP_KEY) to the base64 of "
                             "32 random bytes (`openssl rand -base64 32`), and keep a copy away from the backups.")
    path = dev_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(generate_backup_key() + "\n")
    try:
        return parse_backup_key(path.read_text(encoding="ascii"), str(path))
    except OSError as exc:
        raise BackupKeyError(f"The development backup key {path} is unreadable: {exc}") from None


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


@dataclass(frozen=True)
class StreamResult:
    size: int  # plaintext bytes
    sha256: str  # of the plaintext


def encrypt_stream(read: Callable[[int], bytes], write: Callable[[bytes], object], key: BackupKey,
                   *, chunk_size: int = CHUNK_SIZE) -> StreamResult:
    """Encrypt everything ``read`` returns (until ``b""``) and ``write`` the backup file."""
    salt = os.urandom(SALT_BYTES)
    header = _HEADER.pack(MAGIC, key.key_id.encode("ascii"), salt, chunk_size)
    aead = AESGCM(key.derive(b"mamori-backup-file-v1", salt))
    digest, size = hashlib.sha256(), 0
    write(header)

    def fill() -> bytes:
        parts, have = [], 0
        while have < chunk_size:
            part = read(chunk_size - have)
            if not part:
                break
            parts.append(part)
            have += len(part)
        return b"".join(parts)

    index, pending = 0, fill()
    while True:
        following = fill() if len(pending) == chunk_size else b""
        final = not following
        digest.update(pending)
        size += len(pending)
        sealed = aead.encrypt(_nonce(index), pending, _aad(header, index, final))
        write(struct.pack(">I", len(sealed) | (_FINAL if final else 0)) + sealed)
        if final:
            return StreamResult(size, digest.hexdigest())
        index, pending = index + 1, following


def read_header(handle: BinaryIO) -> tuple[bytes, str, bytes, int]:
    header = handle.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise BackupCorrupt("truncated: the file is shorter than a backup header")
    magic, key_id, salt, chunk_size = _HEADER.unpack(header)
    if magic != MAGIC:
        raise BackupCorrupt("not a Mamori system backup (unknown file signature)")
    if not 1 <= chunk_size <= 64 * 1024 * 1024:
        raise BackupCorrupt("corrupted header (impossible chunk size)")
    try:
        return header, key_id.decode("ascii"), salt, chunk_size
    except UnicodeDecodeError:
        raise BackupCorrupt("corrupted header (key id)") from None


def decrypt_stream(handle: BinaryIO, key: BackupKey, write: Callable[[bytes], object] | None = None) -> StreamResult:
    """Decrypt and authenticate a whole backup file; pass the plaintext to ``write`` if given.

    Raises ``BackupKeyError`` when the file was written with another backup key (before any
    plaintext is produced) and ``BackupCorrupt`` on any truncation or modification.
    """
    header, key_id, salt, chunk_size = read_header(handle)
    if key_id != key.key_id:
        raise BackupKeyError(f"wrong backup key: the file was encrypted with backup key {key_id}, the configured "
                             f"key ({key.source}) is {key.key_id}")
    aead = AESGCM(key.derive(b"mamori-backup-file-v1", salt))
    digest, size, index = hashlib.sha256(), 0, 0
    while True:
        prefix = handle.read(4)
        if len(prefix) < 4:
            raise BackupCorrupt(f"truncated: the file ends after chunk {index} without its final chunk")
        (value,) = struct.unpack(">I", prefix)
        final, length = bool(value & _FINAL), value & ~_FINAL
        if not TAG_BYTES <= length <= chunk_size + TAG_BYTES:
            raise BackupCorrupt(f"corrupted at chunk {index} (impossible chunk length)")
        sealed = handle.read(length)
        if len(sealed) < length:
            raise BackupCorrupt(f"truncated inside chunk {index}")
        try:
            plain = aead.decrypt(_nonce(index), sealed, _aad(header, index, final))
        except InvalidTag:
            raise BackupCorrupt(f"modified: chunk {index} fails authentication") from None
        digest.update(plain)
        size += len(plain)
        if write is not None:
            write(plain)
        if final:
            if handle.read(1):
                raise BackupCorrupt("modified: data follows the final chunk")
            return StreamResult(size, digest.hexdigest())
        index += 1
