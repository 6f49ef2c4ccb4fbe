"""Per-tenant encrypted logical backups and per-tenant restore.

A backup is ONE file per tenant and point in time, in the default storage under
``tenant_storage_prefix(tenant_id) + "backups/<backup uuid>.mtb"`` (so the purge removes it
with the tenant's other files; ``delete_tenant_backups`` removes it explicitly too).

What it holds (the plaintext, a stream of frames): every table of
``mamori.lifecycle.walk.data_tables()`` plus the tables outside it that hang off those rows
(``dependent_tables()``, e.g. allauth's e-mail addresses), all columns including secrets,
as JSON lines; the plaintext of every file of every registered ``FileSource``; and a
manifest (tables, columns, row counts, SHA-256 of every table and file, the schema
fingerprint and the applied migrations).

Format ``MMTBK001``, streamed with constant memory both ways::

    header  = "MMTBK001" | tenant id (u64) | backup uuid (16) | key version (u32)
              | salt (32) | chunk size (u32)
    chunk_i = flags_and_length (u32: bit 31 = final chunk) || AES-256-GCM(file key,
              nonce = i (96-bit), plaintext_i, aad = header || i (u64) || final (1 byte))

The file key is derived (``keys.derive_tenant_key``, HKDF-SHA256) from THAT tenant's data
key with the salt and the purpose ``lifecycle.tenant_backup:<uuid>``. The associated data
binds the tenant id, the backup id, the chunk index and the final flag: a chunk moved,
dropped, reordered, appended or cut off, a file renamed to another backup or tenant, all
fail. When the purge destroys the tenant's data keys (``destroy_tenant_keys``) every backup
of the tenant is unreadable for good.

Frames inside the plaintext: ``kind (1 byte) | length (u32) | payload``; kinds ``H`` (header
JSON), ``T`` (table start: label, columns), ``R`` (a batch of JSON lines, one row each, the
column values in ``columns`` order), ``t`` (table end: rows, sha256), ``F`` (file start),
``D`` (file bytes), ``f`` (file end: size, sha256) and ``Z`` (the manifest).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import struct
import time
import uuid as uuid_lib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from mamori.lifecycle import keys
from mamori.lifecycle.walk import DataTable, data_tables, file_sources, tenant_storage_prefix

MAGIC = b"MMTBK001"
FORMAT = "mamori-tenant-backup/1"
HEADER = struct.Struct(">8sQ16sI32sI")  # magic, tenant id, backup uuid, key version, salt, chunk size
HEADER_SIZE = HEADER.size
CHUNK_SIZE = 1024 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024
TAG_BYTES = 16
SALT_BYTES = 32
_FINAL = 0x80000000
PURPOSE_PREFIX = "lifecycle.tenant_backup:"
SUFFIX = ".mtb"
ROW_BATCH_BYTES = 256 * 1024
FILE_FRAME_BYTES = 64 * 1024
READ_CHUNK_ROWS = 2000

# Tables whose rows a restore never writes, in either mode: the data keys (the target
# tenant has its own; the backup was encrypted with them), the audit log (append-only and
# hash-chained: an in-place restore keeps the current log, which already contains every
# event the backup has, and appends a "tenant restored" event; a tenant restored as new
# starts its own chain), and the sign-in throttle counters (a restore must not lift a lockout).
KEEP_CURRENT = frozenset({"lifecycle.TenantDataKey", "audit.AuditEvent", "accounts.ThrottleCounter"})
# Credentials that would let an old secret in again (revoked API or SCIM tokens, used or
# withdrawn sign-in and invitation links, ended sessions, seen SAML assertions): an in-place
# restore deletes the current rows and does not bring the backup's back; a new tenant gets
# none. Tokens are issued again after a restore. Every user's session stamp is rotated too.
CREDENTIAL_TABLES = frozenset({"accounts.ApiToken", "accounts.LoginLink", "accounts.Invitation",
                               "scim.ScimToken", "usersessions.UserSession", "sso.SamlAssertionUse",
                               "account.EmailConfirmation"})
# Not copied into a new tenant: rows that point at files or download links of the source
# tenant, SIEM deliveries of the source's audit events (the copy would send them again), and identities that are unique across all tenants (an SSO subject, a verified
# e-mail address of allauth): the new tenant's users link their SSO identity again on their
# first single sign-on.
NOT_COPIED_AS_NEW = frozenset({"lifecycle.TenantExport", "evidence.EvidenceExport", "socialaccount.SocialAccount",
                               "socialaccount.SocialToken", "account.EmailAddress", "siem.WebhookDelivery"})
# JSON columns holding lists of primary keys of another table (remapped in a restore as new).
ID_LIST_COLUMNS: dict[tuple[str, str], str] = {("sso.SsoConnection", "break_glass_user_ids"): "accounts.User"}
# Purposes of tenant-bound tokens (``keys.encrypt_for_tenant``) kept in columns that are not
# ``EncryptedTextField``s, per table; a restore as new re-encrypts them for the new tenant.
_TOKEN_PURPOSES: dict[str, set[str]] = {"mfa.Authenticator": {"mfa"}, "sso.SsoConnection": {"sso.client_secret"}}


def register_token_purpose(label: str, purpose: str) -> None:
    """Declare that rows of ``label`` ("app.Model") may hold ``encrypt_for_tenant`` tokens of ``purpose``."""
    _TOKEN_PURPOSES.setdefault(label, set()).add(purpose)


# --- errors --------------------------------------------------------------------------------

class TenantBackupError(ValueError):
    """A backup cannot be used; the message names the file and says why (never key material)."""


class BackupUnreadable(TenantBackupError):
    """Truncated, modified, another tenant's, or its data key is destroyed."""


class SchemaMismatch(TenantBackupError):
    """The backup was taken with another database schema than the running code's."""


# --- the tables and the storage ------------------------------------------------------------

@dataclass(frozen=True)
class BackupTable:
    model: type[models.Model]
    lookup: str  # filter that selects one tenant's rows, e.g. "tenant_id" or "user__tenant_id"

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def fields(self) -> list[models.Field]:
        return list(self.model._meta.concrete_fields)

    @property
    def columns(self) -> list[str]:
        return [f.attname for f in self.fields]

    def rows(self, tenant_id: int) -> models.QuerySet:
        return self.model._base_manager.filter(**{self.lookup: tenant_id}).order_by("pk")


def dependent_tables(tables: list[DataTable] | None = None) -> list[BackupTable]:
    """Tables outside ``data_tables()`` whose rows hang off a tenant's rows through a
    non-null foreign key (allauth's ``EmailAddress``, ``SocialToken`` …), parents first."""
    known = {t.model: t.tenant_lookup for t in (tables or data_tables())}
    found: list[BackupTable] = []
    changed = True
    while changed:
        changed = False
        for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
            if model in known or model._meta.proxy:
                continue
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model in known and not f.null and f.related_model is not model:
                    lookup = f"{f.name}__{known[f.related_model]}"
                    known[model] = lookup
                    found.append(BackupTable(model, lookup))
                    changed = True
                    break
    return found


def backup_tables() -> list[BackupTable]:
    """Every table a tenant backup holds, in insert order."""
    tables = data_tables()
    return [BackupTable(t.model, t.tenant_lookup) for t in tables] + dependent_tables(tables)


def _column_signature(table: BackupTable) -> list[list[str]]:
    return [[f.attname, f.get_internal_type()] for f in table.fields]


def schema_fingerprint(tables: list[BackupTable] | None = None) -> str:
    """SHA-256 over every backup table's label and columns (name and type)."""
    body = json.dumps([[t.label, _column_signature(t)] for t in (tables or backup_tables())],
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def migration_state() -> dict[str, str]:
    """The newest applied migration of every app, for the manifest."""
    from django.db.migrations.recorder import MigrationRecorder

    state: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).migration_qs.values_list("app", "name"):
        if name > state.get(app, ""):
            state[app] = name
    return dict(sorted(state.items()))


def backup_prefix(tenant_id: int) -> str:
    """Where one tenant's backups live in the default storage (inside the tenant's prefix)."""
    return tenant_storage_prefix(tenant_id) + "backups/"


def storage_name_for(tenant_id: int, backup_uuid) -> str:
    return f"{backup_prefix(tenant_id)}{uuid_lib.UUID(str(backup_uuid))}{SUFFIX}"


def _walk_storage(prefix: str) -> Iterator[str]:
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield prefix + name
    for name in dirs:
        yield from _walk_storage(prefix + name + "/")


def stored_files(prefix: str) -> set[str]:
    return set(_walk_storage(prefix))


def delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except OSError:
        pass


def delete_tenant_backups(tenant_id: int) -> int:
    """Delete every per-tenant backup file of ``tenant_id``; return how many files were removed.

    Idempotent (a second call removes 0). Called by the purge, which audits it; the
    provider rows stay as a record (``status = deleted``, no customer content).
    """
    from mamori.lifecycle.models import TenantBackup

    removed = 0
    for name in sorted(_walk_storage(backup_prefix(tenant_id))):
        default_storage.delete(name)
        removed += 1
    (TenantBackup.objects.filter(tenant_id=tenant_id).exclude(status=TenantBackup.Status.DELETED)
     .update(status=TenantBackup.Status.DELETED, deleted_at=timezone.now()))
    return removed


# --- encoding rows ---------------------------------------------------------------------------

def _json_default(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid_lib.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        from django.utils.duration import duration_string

        return duration_string(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default).encode

_CONVERTED_TYPES = frozenset({"DateTimeField", "DateField", "TimeField", "DecimalField", "UUIDField",
                              "DurationField", "BinaryField"})


def _converter(f: models.Field) -> Callable | None:
    """How a JSON value goes back to what the field stores (None: as is)."""
    from mamori.lifecycle.fields import EncryptedTextField, Sealed

    if isinstance(f, EncryptedTextField):
        return lambda v: Sealed(v) if v else v
    if type(f) is models.DateTimeField and settings.USE_TZ and connection.vendor in ("sqlite", "postgresql"):
        return None  # parsed by _fast_datetime when it is prepared
    if f.get_internal_type() in _CONVERTED_TYPES:
        return lambda v: None if v is None else f.to_python(v)
    return None


# --- the encrypted container -------------------------------------------------------------------

def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _purpose(backup_uuid) -> str:
    return f"{PURPOSE_PREFIX}{uuid_lib.UUID(str(backup_uuid))}"


def _frame(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


class _IterReader(io.RawIOBase):
    """A readable stream over an iterator of byte strings (feeds ``default_storage.save``)."""

    def __init__(self, parts: Iterator[bytes]):
        self._parts = parts
        self._buffer = b""
        self.size = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._parts)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self.digest.update(self._buffer[:n])
        self.size += n
        self._buffer = self._buffer[n:]
        return n


def _seal(plaintext: Iterable[bytes], header: bytes, aead: AESGCM, chunk_size: int) -> Iterator[bytes]:
    yield header
    buffer, index = bytearray(), 0
    for part in plaintext:
        buffer += part
        while len(buffer) > chunk_size:  # keep the rest: the last chunk must carry the final flag
            chunk = bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
            sealed = aead.encrypt(_nonce(index), chunk, _aad(header, index, False))
            yield struct.pack(">I", len(sealed)) + sealed
            index += 1
    sealed = aead.encrypt(_nonce(index), bytes(buffer), _aad(header, index, True))
    yield struct.pack(">I", len(sealed) | _FINAL) + sealed


@dataclass
class Opened:
    """A backup file whose header was read and whose key was derived (needs the tenant's context)."""

    storage_name: str
    tenant_id: int
    backup_uuid: uuid_lib.UUID
    key_version: int
    header: bytes
    chunk_size: int
    aead: AESGCM


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    parts, have = [], 0
    while have < size:
        part = stream.read(size - have)
        if not part:
            break
        parts.append(part)
        have += len(part)
    return b"".join(parts)


def open_backup(storage_name: str, *, tenant_id: int, backup_uuid) -> Opened:
    """Check the header and derive the file key. Call inside ``tenant_context`` of the backup's tenant
    (or outside any tenant context). Raises ``BackupUnreadable`` naming the file."""
    try:
        with default_storage.open(storage_name, "rb") as stream:
            header = _read_exact(stream, HEADER_SIZE)
    except (FileNotFoundError, OSError):
        raise BackupUnreadable(f"{storage_name}: the backup file is missing") from None
    if len(header) < HEADER_SIZE:
        raise BackupUnreadable(f"{storage_name}: truncated (shorter than a backup header)")
    magic, tenant, raw_uuid, version, salt, chunk_size = HEADER.unpack(header)
    if magic != MAGIC:
        raise BackupUnreadable(f"{storage_name}: not a Mamori tenant backup (unknown file signature)")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE or version < 1:
        raise BackupUnreadable(f"{storage_name}: corrupted header")
    if tenant != int(tenant_id) or uuid_lib.UUID(bytes=raw_uuid) != uuid_lib.UUID(str(backup_uuid)):
        raise BackupUnreadable(f"{storage_name}: the file belongs to another tenant or backup")
    try:
        _v, key = keys.derive_tenant_key(int(tenant_id), purpose=_purpose(backup_uuid), salt=salt, version=version)
    except keys.DecryptionError:
        raise BackupUnreadable(f"{storage_name}: the tenant's data key v{version} is not available "
                               "(destroyed by a purge?); the backup is unreadable") from None
    return Opened(storage_name, int(tenant_id), uuid_lib.UUID(str(backup_uuid)), version, header, chunk_size,
                  AESGCM(key))


def decrypt_chunks(opened: Opened) -> Iterator[bytes]:
    """The authenticated plaintext chunks; ``BackupUnreadable`` (naming the file) on any damage."""
    name = opened.storage_name
    try:
        stream = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise BackupUnreadable(f"{name}: the backup file is missing") from None
    with stream:
        if _read_exact(stream, HEADER_SIZE) != opened.header:
            raise BackupUnreadable(f"{name}: the header changed while reading")
        index = 0
        limit = opened.chunk_size + TAG_BYTES
        while True:
            prefix = _read_exact(stream, 4)
            if len(prefix) < 4:
                raise BackupUnreadable(f"{name}: truncated (ends after chunk {index} without its final chunk)")
            (value,) = struct.unpack(">I", prefix)
            final, length = bool(value & _FINAL), value & ~_FINAL
            if not TAG_BYTES <= length <= limit:
                raise BackupUnreadable(f"{name}: corrupted at chunk {index} (impossible length)")
            sealed = _read_exact(stream, length)
            if len(sealed) < length:
                raise BackupUnreadable(f"{name}: truncated inside chunk {index}")
            try:
                plain = opened.aead.decrypt(_nonce(index), sealed, _aad(opened.header, index, final))
            except InvalidTag:
                raise BackupUnreadable(f"{name}: modified (chunk {index} fails authentication)") from None
            yield plain
            if final:
                if stream.read(1):
                    raise BackupUnreadable(f"{name}: modified (data after the final chunk)")
                return
            index += 1


class _PlainReader:
    def __init__(self, chunks: Iterator[bytes], name: str):
        self._chunks = chunks
        self._buffer = bytearray()
        self._name = name

    def read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                raise BackupUnreadable(f"{self._name}: the content is cut short") from None
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def at_end(self) -> bool:
        while not self._buffer:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                return True
        return False


def frames(opened: Opened) -> Iterator[tuple[bytes, bytes]]:
    """``(kind, payload)`` of every frame, ending with the manifest (``Z``)."""
    reader = _PlainReader(decrypt_chunks(opened), opened.storage_name)
    while not reader.at_end():
        head = reader.read_exact(5)
        kind, (length,) = head[:1], struct.unpack(">I", head[1:])
        if kind not in b"HTRtFDfZ" or length > MAX_CHUNK_SIZE:
            raise BackupUnreadable(f"{opened.storage_name}: corrupted content (unknown frame)")
        yield kind, reader.read_exact(length)


# --- writing a backup ----------------------------------------------------------------------------

@dataclass
class WriteResult:
    backup_uuid: uuid_lib.UUID
    storage_name: str
    size: int
    sha256: str
    key_version: int
    counts: dict[str, int]
    file_count: int
    schema: str
    duration_ms: int

    @property
    def row_count(self) -> int:
        return sum(self.counts.values())


def _plaintext(tenant, backup_uuid, created: str, tables: list[BackupTable], counts: dict,
               manifest_tables: list, manifest_files: list) -> Iterator[bytes]:
    schema = schema_fingerprint(tables)
    head = {"format": FORMAT, "tenant": {"id": tenant.pk, "slug": tenant.slug}, "backup": str(backup_uuid),
            "created": created, "schema": schema}
    yield _frame(b"H", _dumps(head).encode())
    for table in tables:
        columns = table.columns
        yield _frame(b"T", _dumps({"label": table.label, "columns": columns}).encode())
        digest, rows, batch, size = hashlib.sha256(), 0, [], 0
        for values in table.rows(tenant.pk).values_list(*columns).iterator(chunk_size=READ_CHUNK_ROWS):
            line = (_dumps(values) + "\n").encode()
            digest.update(line)
            batch.append(line)
            size += len(line)
            rows += 1
            if size >= ROW_BATCH_BYTES:
                yield _frame(b"R", b"".join(batch))
                batch, size = [], 0
        if batch:
            yield _frame(b"R", b"".join(batch))
        counts[table.label] = rows
        entry = {"label": table.label, "columns": columns, "rows": rows, "sha256": digest.hexdigest()}
        manifest_tables.append(entry)
        yield _frame(b"t", _dumps(entry).encode())
    for source in file_sources():
        for tfile in source.files(tenant.pk):
            meta = {"source": source.name, "name": tfile.archive_name, "owner": tfile.owner_label,
                    "owner_pk": tfile.owner_pk}
            yield _frame(b"F", _dumps(meta).encode())
            digest, size = hashlib.sha256(), 0
            with tfile.open() as stream:
                while True:
                    part = stream.read(FILE_FRAME_BYTES)
                    if not part:
                        break
                    digest.update(part)
                    size += len(part)
                    yield _frame(b"D", part)
            entry = {**meta, "size": size, "sha256": digest.hexdigest()}
            manifest_files.append(entry)
            yield _frame(b"f", _dumps(entry).encode())
    manifest = {**head, "tables": manifest_tables, "files": manifest_files,
                "rows": sum(counts.values()), "migrations": migration_state()}
    yield _frame(b"Z", _dumps(manifest).encode())


def write_backup(tenant, *, backup_uuid=None, chunk_size: int = CHUNK_SIZE) -> WriteResult:
    """Dump ``tenant`` into a new encrypted backup file; return what was written.

    Reads inside ``tenant_context(tenant)`` (RLS agrees) in one transaction; on PostgreSQL, when
    no transaction is open yet, a REPEATABLE READ one, so every table is read at the same point.
    On any failure the partial file is removed and the error raised.
    """
    from mamori.tenancy.context import tenant_context

    started = time.monotonic()
    backup_uuid = uuid_lib.UUID(str(backup_uuid)) if backup_uuid else uuid_lib.uuid4()
    name = storage_name_for(tenant.pk, backup_uuid)
    tables = backup_tables()
    counts: dict[str, int] = {}
    manifest_tables: list = []
    manifest_files: list = []
    created = timezone.now().isoformat()
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if outermost and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with tenant_context(tenant):
                salt = os.urandom(SALT_BYTES)
                version, key = keys.derive_tenant_key(tenant.pk, purpose=_purpose(backup_uuid), salt=salt)
                header = HEADER.pack(MAGIC, tenant.pk, backup_uuid.bytes, version, salt, chunk_size)
                plain = _plaintext(tenant, backup_uuid, created, tables, counts, manifest_tables, manifest_files)
                reader = _IterReader(_seal(plain, header, AESGCM(key), chunk_size))
                saved = default_storage.save(name, File(io.BufferedReader(reader, chunk_size), name=name))
        if saved != name:
            delete_quietly(saved)
            raise TenantBackupError(f"{name}: the storage stored the backup under another name ({saved})")
    except BaseException:
        if default_storage.exists(name):  # the name holds a fresh uuid: whatever is there is ours
            delete_quietly(name)
        raise
    return WriteResult(backup_uuid, name, reader.size, reader.digest.hexdigest(), version, counts,
                       len(manifest_files), schema_fingerprint(tables), int((time.monotonic() - started) * 1000))


# --- reading and checking a backup -------------------------------------------------------------

@dataclass
class Checked:
    """What a full pass over a backup found (every chunk authenticated, every digest compared)."""

    manifest: dict
    counts: dict[str, int]
    file_count: int
    tokens: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # token -> (purpose, plaintext)
    file_owners: set[str] = field(default_factory=set)  # labels of the tables files belong to


def _iter_strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _iter_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _iter_strings(item)


def _candidate_purposes(label: str) -> list[str]:
    from mamori.lifecycle.fields import encrypted_columns

    own = {c.purpose for c in encrypted_columns() if c.model_label == label} | _TOKEN_PURPOSES.get(label, set())
    every = {c.purpose for c in encrypted_columns()}.union(*_TOKEN_PURPOSES.values())
    return sorted(own) + sorted(every - own)


def check_backup(opened: Opened, *, collect_tokens: bool = False, schema: bool = True) -> Checked:
    """Read the whole backup: authenticate every chunk, compare every table's and file's row count
    and SHA-256 with the manifest, and (``schema``) the tables and columns with the running code.

    With ``collect_tokens`` (a restore as a new tenant), decrypt every tenant-bound token found
    in the rows with the backup's tenant key (call inside that tenant's context). Raises
    ``BackupUnreadable`` or ``SchemaMismatch``; writes nothing.
    """
    name = opened.storage_name
    current = {t.label: t for t in backup_tables()} if schema else {}
    counts: dict[str, int] = {}
    seen_files = 0
    table = digest = None
    rows = 0
    file_meta = file_digest = None
    file_size = 0
    manifest = None
    tokens: dict[str, str] = {}
    file_owners: set[str] = set()
    head = None
    for kind, payload in frames(opened):
        if manifest is not None:
            raise BackupUnreadable(f"{name}: modified (content after the manifest)")
        if kind == b"H":
            head = json.loads(payload)
            if head.get("format") != FORMAT or head.get("backup") != str(opened.backup_uuid):
                raise BackupUnreadable(f"{name}: unknown format or another backup's content")
        elif head is None:
            raise BackupUnreadable(f"{name}: corrupted content (no header)")
        elif kind == b"T":
            table = json.loads(payload)
            digest, rows = hashlib.sha256(), 0
            if schema:
                model_table = current.get(table["label"])
                if model_table is None:
                    raise SchemaMismatch(f"{name}: the backup has table {table['label']}, which this release "
                                         "does not have")
                if model_table.columns != table["columns"]:
                    raise SchemaMismatch(f"{name}: the columns of {table['label']} differ from this release's "
                                         f"(backup: {', '.join(table['columns'])}; now: "
                                         f"{', '.join(model_table.columns)})")
        elif kind == b"R":
            if table is None:
                raise BackupUnreadable(f"{name}: corrupted content (rows outside a table)")
            digest.update(payload)
            rows += payload.count(b"\n")
            if collect_tokens and b'"mk1.' in payload:
                for line in payload.split(b"\n"):
                    if b'"mk1.' in line:
                        for text in _iter_strings(json.loads(line)):
                            if keys.is_token(text):
                                tokens.setdefault(text, table["label"])
        elif kind == b"t":
            end = json.loads(payload)
            if table is None or end.get("label") != table["label"] or end.get("rows") != rows \
                    or end.get("sha256") != digest.hexdigest():
                raise BackupUnreadable(f"{name}: modified (table {end.get('label')} does not match its digest)")
            counts[table["label"]] = rows
            table = None
        elif kind == b"F":
            file_meta, file_digest, file_size = json.loads(payload), hashlib.sha256(), 0
            file_owners.add(file_meta.get("owner", ""))
        elif kind == b"D":
            if file_meta is None:
                raise BackupUnreadable(f"{name}: corrupted content (file data outside a file)")
            file_digest.update(payload)
            file_size += len(payload)
        elif kind == b"f":
            end = json.loads(payload)
            if file_meta is None or end.get("size") != file_size or end.get("sha256") != file_digest.hexdigest():
                raise BackupUnreadable(f"{name}: modified (file {end.get('name')} does not match its digest)")
            seen_files += 1
            file_meta = None
        elif kind == b"Z":
            manifest = json.loads(payload)
    if manifest is None:
        raise BackupUnreadable(f"{name}: truncated (no manifest)")
    listed = {t["label"]: t["rows"] for t in manifest.get("tables", [])}
    if listed != counts or len(manifest.get("files", [])) != seen_files:
        raise BackupUnreadable(f"{name}: modified (the manifest does not match the content)")
    if schema:
        missing = sorted(set(current) - set(counts))
        if missing:
            raise SchemaMismatch(f"{name}: the backup lacks tables this release has ({', '.join(missing)}); "
                                 "it was taken with another schema")
        sources = {s.name for s in file_sources()}
        unknown = sorted({f["source"] for f in manifest.get("files", [])} - sources)
        if unknown:
            raise SchemaMismatch(f"{name}: the backup has files of sources this release lacks ({', '.join(unknown)})")
    opened_tokens: dict[str, tuple[str, bytes]] = {}
    for token, label in tokens.items():
        for purpose in _candidate_purposes(label):
            try:
                opened_tokens[token] = (purpose, keys.decrypt_for_tenant(opened.tenant_id, token, purpose=purpose))
                break
            except keys.DecryptionError:
                continue
        else:
            raise BackupUnreadable(f"{name}: an encrypted value in {label} does not open with the tenant's key "
                                   "(unknown purpose: declare it with register_token_purpose)")
    return Checked(manifest, counts, seen_files, opened_tokens, file_owners)


# --- restoring -----------------------------------------------------------------------------------

@dataclass
class RestoreResult:
    tenant_id: int
    mode: str  # "as_new" | "in_place"
    restored: dict[str, int]  # rows written per table
    removed: dict[str, int]  # rows deleted per table (in place)
    files: int
    sessions_ended: int
    duration_ms: int = 0


def _insert_batch_size(columns: int) -> int:
    if connection.vendor == "postgresql":
        return 5_000  # one array parameter per column: no placeholder limit
    return max(1, min(2_000, 32_000 // max(columns, 1)))


# Field classes whose Python value goes to the database as it is (no adaptation needed).
_PLAIN_FIELDS = (models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField,
                 models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
                 models.PositiveSmallIntegerField, models.PositiveBigIntegerField, models.CharField, models.TextField,
                 models.BooleanField, models.ForeignKey, models.OneToOneField, models.EmailField, models.SlugField,
                 models.URLField)


def _sqlite_datetime(v):
    """ISO text from the backup → what Django itself stores on SQLite (naive UTC text)."""
    value = dt.datetime.fromisoformat(v) if isinstance(v, str) else v
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return str(value)


def _pg_datetime(v):
    return dt.datetime.fromisoformat(v) if isinstance(v, str) else v


def _preparer(f: models.Field) -> Callable | None:
    """How a (converted) value is adapted for the database; None when it goes as it is."""
    from django.db import connections

    real = connections[connection.alias]  # not the thread-local proxy: it is looked up per call
    if type(f) in _PLAIN_FIELDS:
        return None
    if type(f) is models.DateTimeField and settings.USE_TZ and real.vendor in ("sqlite", "postgresql"):
        return _sqlite_datetime if real.vendor == "sqlite" else _pg_datetime
    return lambda v: f.get_db_prep_save(v, real)


def _insert(table: str, fields: list[models.Field], rows: list[list], *, returning: str | None) -> list:
    """One multi-row INSERT (no model instances, no ``pre_save``: times stay as they were).

    On PostgreSQL one array parameter per column (``unnest``): the statement stays short, so the
    driver does not re-parse thousands of placeholders per batch. (``COPY`` is not allowed on
    tables with row-level security.)
    """
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    db_types = [f.db_type(connection) for f in fields] if connection.vendor == "postgresql" else []
    use_arrays = bool(db_types) and all(t and not t.endswith("]") for t in db_types)
    if use_arrays:
        arrays = ", ".join(f"%b::{_array_type(t)}[]" for t in db_types)
        names = ", ".join(f"c{i}" for i in range(len(fields)))
        # Names and types come from the models; values are parameters.
        sql = (f"INSERT INTO {qn(table)} ({columns}) SELECT {names} FROM unnest({arrays}) "  # noqa: S608
               f"WITH ORDINALITY AS u({names}, ord) ORDER BY ord")
        params = [[row[i] for row in rows] for i in range(len(fields))]
    else:
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = f"INSERT INTO {qn(table)} ({columns}) VALUES {', '.join([row_sql] * len(rows))}"  # noqa: S608
        params = [v for row in rows for v in row]
    if returning:
        sql += f" RETURNING {qn(returning)}"
    if use_arrays:
        # Server-side binding (same connection and transaction): the arrays travel as binary
        # parameters instead of being quoted into the statement text, element by element.
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params)
            return [r[0] for r in cursor.fetchall()] if returning else []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [r[0] for r in cursor.fetchall()] if returning else []


def _array_type(db_type: str) -> str:
    """The element type for an array cast: serial types become their integer types."""
    return {"serial": "integer", "bigserial": "bigint", "smallserial": "smallint"}.get(db_type, db_type).split(
        " CHECK")[0]


def _delete_rows(table: BackupTable, tenant_id: int) -> int:
    """Delete one table's rows of the tenant; keeps ``post_delete`` receivers (files) working."""
    from django.db.models import signals

    qs = table.rows(tenant_id).order_by()
    if signals.post_delete.has_listeners(table.model) or signals.pre_delete.has_listeners(table.model):
        return qs.delete()[1].get(table.label, 0)
    return qs._raw_delete(connection.alias)


def _rotate_session_stamps(tenant_id: int) -> int:
    from mamori.accounts.models import User, _new_stamp

    pks = list(User._base_manager.filter(tenant_id=tenant_id).values_list("pk", flat=True))
    for pk in pks:
        User._base_manager.filter(pk=pk).update(session_stamp=_new_stamp())
    return len(pks)


class _FileStream(io.RawIOBase):
    """The bytes of one backed-up file, read from the following ``D`` frames."""

    def __init__(self, frame_iter: Iterator[tuple[bytes, bytes]], name: str):
        self._frames = frame_iter
        self._buffer = b""
        self.end: dict | None = None
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._buffer:
            if self.end is not None:
                return 0
            kind, payload = next(self._frames)
            if kind == b"D":
                self._buffer = payload
            elif kind == b"f":
                self.end = json.loads(payload)
                return 0
            else:
                raise BackupUnreadable(f"{self._name}: corrupted content (file not closed)")
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def drain(self) -> None:
        while self.readinto(bytearray(FILE_FRAME_BYTES)):
            pass


def restore_rows(opened: Opened, target, *, mode: str, tokens: dict[str, tuple[str, bytes]] | None = None,
                 file_owners: Iterable[str] = ()) -> RestoreResult:
    """Write the backup's rows and files into ``target`` (a tenant), inside ``tenant_context(target)``
    and inside the caller's transaction. ``mode`` "in_place": the backup's own tenant, original
    keys, current rows deleted first. "as_new": a fresh tenant, new primary keys, every foreign key
    between the tenant's tables remapped, tenant-bound tokens re-encrypted for the new tenant.

    The backup must have been checked (``check_backup``) first; a damage found now still raises
    (the caller's transaction rolls the rows back and removes the files written).
    """
    from mamori.tenancy.context import require_tenant

    started = time.monotonic()
    if require_tenant().pk != target.pk:
        raise RuntimeError("restore_rows runs inside tenant_context of the target tenant")
    as_new = mode == "as_new"
    tables = {t.label: t for t in backup_tables()}
    order = list(tables)
    skip = set(KEEP_CURRENT) | set(CREDENTIAL_TABLES) | (set(NOT_COPIED_AS_NEW) if as_new else set())
    removed: dict[str, int] = {}
    if not as_new:
        for label in reversed(order):
            if label in KEEP_CURRENT:
                continue
            count = _delete_rows(tables[label], target.pk)
            if count:
                removed[label] = count
    # Which tables are referenced by others (their old -> new keys are kept for remapping).
    referenced = {f.related_model._meta.label for t in tables.values() for f in t.fields
                  if f.is_relation and f.related_model is not None and f.related_model._meta.label in tables}
    referenced |= set(ID_LIST_COLUMNS.values()) | set(file_owners)
    pk_maps: dict[str, dict] = {label: {} for label in referenced} if as_new else {}
    restored: dict[str, int] = {}
    frame_iter = frames(opened)

    try:
        files = _write_frames(frame_iter, opened, tables, skip, pk_maps, restored, target, as_new, tokens)
    except DatabaseError as exc:
        # No row content in the message (a constraint's detail may quote values).
        raise TenantBackupError(f"{opened.storage_name}: the backup's rows could not be written "
                                f"({type(exc).__name__}); nothing was restored") from exc
    sessions = _rotate_session_stamps(target.pk)
    return RestoreResult(target.pk, mode, restored, removed, files, sessions,
                         int((time.monotonic() - started) * 1000))


def _write_frames(frame_iter, opened: Opened, tables: dict, skip: set, pk_maps: dict, restored: dict, target,
                  as_new: bool, tokens) -> int:
    files = 0
    current = None
    for kind, payload in frame_iter:
        if kind == b"T":
            meta = json.loads(payload)
            label = meta["label"]
            table = tables[label]
            by_att = {f.attname: f for f in table.fields}
            fields = [by_att[c] for c in meta["columns"]]
            current = _TableWriter(table, fields, target, as_new=as_new, skip=label in skip,
                                   pk_maps=pk_maps, tokens=tokens or {})
        elif kind == b"R":
            current.add(payload)
        elif kind == b"t":
            count = current.finish()
            if count:
                restored[current.table.label] = count
            current = None
        elif kind == b"F":
            meta = json.loads(payload)
            stream = _FileStream(frame_iter, opened.storage_name)
            source = next((s for s in file_sources() if s.name == meta["source"]), None)
            owner_pk = meta["owner_pk"]
            if as_new:
                owner_pk = pk_maps.get(meta["owner"], {}).get(owner_pk)
            owner_model = apps.get_model(meta["owner"])
            row = owner_model._base_manager.filter(pk=owner_pk).first() if owner_pk is not None else None
            if source is not None and source.restore is not None and row is not None:
                source.restore(row, io.BufferedReader(stream, FILE_FRAME_BYTES))
                files += 1
            stream.drain()
        elif kind == b"Z":
            break
    return files


class _TableWriter:
    def __init__(self, table: BackupTable, fields: list[models.Field], target, *, as_new: bool, skip: bool,
                 pk_maps: dict[str, dict], tokens: dict[str, tuple[str, bytes]]):
        self.table = table
        self.model = table.model
        self.fields = fields
        self.target = target
        self.as_new = as_new
        self.skip = skip
        self.pk_maps = pk_maps
        self.tokens = tokens
        self.count = 0
        label = table.label
        self.pk_name = self.model._meta.pk.attname
        self.pk_index = [f.attname for f in fields].index(self.pk_name)
        self.converters = [_converter(f) for f in fields]
        self.pk_map = pk_maps.get(label) if as_new else None
        # Foreign keys: (index, target label or None for a provider table, nullable)
        self.remaps = []
        self.pending_self: list[tuple[int, object]] = []
        for i, f in enumerate(fields):
            if f.is_relation and f.related_model is not None:
                target_label = f.related_model._meta.label
                if f.attname == "tenant_id" and target_label == "tenancy.Tenant":
                    self.remaps.append((i, "__tenant__", False))
                elif target_label in pk_maps or (as_new and target_label in ID_LIST_COLUMNS.values()):
                    self.remaps.append((i, target_label, f.null))
        self.id_lists = [(i, ID_LIST_COLUMNS[(label, f.attname)]) for i, f in enumerate(fields)
                         if (label, f.attname) in ID_LIST_COLUMNS]
        self.insert_fields = [f for f in fields if not (as_new and f.attname == self.pk_name)]
        self.insert_index = [i for i, f in enumerate(fields) if not (as_new and f.attname == self.pk_name)]
        self.preparers = [_preparer(fields[i]) for i in self.insert_index]
        self.batch: list[list] = []
        self.old_pks: list = []
        self.batch_size = _insert_batch_size(len(self.insert_fields))

    def _tokens(self, value):
        if isinstance(value, str):
            hit = self.tokens.get(value)
            if hit is None:
                return value
            purpose, plain = hit
            return keys.encrypt_for_tenant(self.target.pk, plain, purpose=purpose)
        if isinstance(value, list):
            return [self._tokens(v) for v in value]
        if isinstance(value, dict):
            return {k: self._tokens(v) for k, v in value.items()}
        return value

    def add(self, payload: bytes) -> None:
        if self.skip:
            return
        for line in payload.split(b"\n"):
            if not line:
                continue
            values = json.loads(line)
            for i, convert in enumerate(self.converters):
                if convert is not None:
                    values[i] = convert(values[i])
            if self.as_new:
                if self.tokens and b'"mk1.' in line:
                    values = [self._tokens(v) for v in values]
                    from mamori.lifecycle.fields import EncryptedTextField, Sealed

                    for i, f in enumerate(self.fields):
                        if isinstance(f, EncryptedTextField) and values[i]:
                            values[i] = Sealed(values[i])
                for i, target_label, nullable in self.remaps:
                    old = values[i]
                    if target_label == "__tenant__":
                        values[i] = self.target.pk
                    elif old is not None:
                        if target_label == self.table.label:
                            values[i] = None
                            self.pending_self.append((values[self.pk_index], self.fields[i].attname, old))
                            continue
                        new = self.pk_maps.get(target_label, {}).get(old)
                        if new is None and not nullable:
                            raise TenantBackupError(f"{self.table.label}: a row points at {target_label} {old}, "
                                                    "which the backup does not restore")
                        values[i] = new
                for i, target_label in self.id_lists:
                    mapping = self.pk_maps.get(target_label, {})
                    values[i] = [mapping[v] for v in (values[i] or []) if v in mapping]
                self.old_pks.append(values[self.pk_index])
            row = [values[i] for i in self.insert_index]
            for i, prepare in enumerate(self.preparers):
                if prepare is not None and row[i] is not None:
                    row[i] = prepare(row[i])
            self.batch.append(row)
            if len(self.batch) >= self.batch_size:
                self._flush()

    def _flush(self) -> None:
        if not self.batch:
            return
        if self.as_new:
            new_pks = _insert(self.model._meta.db_table, self.insert_fields, self.batch,
                              returning=self.model._meta.pk.column)
            if self.pk_map is not None:
                self.pk_map.update(zip(self.old_pks, new_pks, strict=True))
        else:
            _insert(self.model._meta.db_table, self.insert_fields, self.batch, returning=None)
        self.count += len(self.batch)
        self.batch, self.old_pks = [], []

    def finish(self) -> int:
        self._flush()
        own = self.pk_maps.get(self.table.label, {})
        for old_pk, attname, old in self.pending_self:
            self.model._base_manager.filter(pk=own[old_pk]).update(**{attname: own.get(old)})
        return self.count


def restore_prefix_snapshot(tenant_id: int) -> set[str]:
    """The tenant's stored files now (to remove what a failed restore wrote)."""
    return stored_files(tenant_storage_prefix(tenant_id))


def remove_new_files(tenant_id: int, before: set[str]) -> int:
    removed = 0
    for name in stored_files(tenant_storage_prefix(tenant_id)) - before:
        if not name.startswith(backup_prefix(tenant_id)):
            delete_quietly(name)
            removed += 1
    return removed


def keep_days() -> int:
    return int(getattr(settings, "MAMORI_TENANT_BACKUP_KEEP_DAYS", 14))
