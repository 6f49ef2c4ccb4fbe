"""Encrypted system backups with generations and an off-site copy (ISMS 12.3.1; docs/backups.md).

A backup is two files in ``MAMORI_BACKUP_DIR`` (default ``MAMORI_DATA_DIR/backups``):

- ``mamori-<UTC time>-<random>.mbk``: a consistent snapshot of the whole database (SQLite
  online backup API, or ``pg_dump --format=custom``) encrypted in chunks with the backup key
  (``mamori.lifecycle.backup_crypto``);
- ``….manifest.json``: format, engine, time, Mamori version, applied migrations, rows per
  table, sizes and SHA-256 of the encrypted file and of the plaintext, and an HMAC (keyed
  by the backup key) over all of it.

Both are written to a temporary name and renamed, the manifest last: a backup without its
manifest is incomplete and never listed. The files are the truth — a new machine with the
backup directory (or the off-site copy) and the keys can list, verify and restore them; the
``SystemBackup`` rows mirror them for the console and the control check.

``choose_generations`` (pure) decides what ``prune`` keeps: the newest backup of each of the
last ``MAMORI_BACKUP_KEEP_DAILY`` days and of each of the last ``MAMORI_BACKUP_KEEP_WEEKLY``
ISO weeks (UTC), and always the newest backup.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from mamori.lifecycle import backup_engines as engines
from mamori.lifecycle.backup_crypto import (
    BackupCorrupt,
    BackupKey,
    BackupKeyError,
    decrypt_stream,
    encrypt_stream,
    load_backup_key,
)

FORMAT = "mamori-system-backup/1"
SUFFIX = ".mbk"
MANIFEST_SUFFIX = ".manifest.json"
_NAME_RE = re.compile(r"^mamori-\d{8}T\d{6}Z-[0-9a-f]{6}$")
_READ = 1024 * 1024

__all__ = ["Backup", "BackupCorrupt", "BackupError", "BackupKeyError", "choose_generations", "create_backup",
           "find_backup", "list_backups", "verify_backup"]


class BackupError(RuntimeError):
    """A backup operation failed; the message names the file and the reason."""


def mamori_version() -> str:
    try:
        return importlib.metadata.version("mamori")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - always installed here
        return "0+unknown"


def backup_dir(directory: str | Path | None = None) -> Path:
    return Path(directory) if directory else Path(settings.BACKUP_DIR)


def offsite_dir() -> Path | None:
    value = getattr(settings, "BACKUP_OFFSITE_DIR", "")
    return Path(value) if value else None


@dataclass
class Backup:
    name: str
    directory: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.directory / (self.name + SUFFIX)

    @property
    def manifest_path(self) -> Path:
        return self.directory / (self.name + MANIFEST_SUFFIX)

    @property
    def file_name(self) -> str:
        return self.name + SUFFIX

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.manifest["created"])

    @property
    def engine(self) -> str:
        return self.manifest.get("engine", "")


# --- manifest -------------------------------------------------------------------------------


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_manifest(path: Path, manifest: dict[str, Any], key: BackupKey) -> dict[str, Any]:
    """Write ``manifest`` with its HMAC (keyed by the backup key); return what was written."""
    manifest = dict(manifest, mac=key.manifest_mac(_canonical(manifest)))
    _atomic_write(path, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupCorrupt(f"unreadable manifest {path.name}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupCorrupt(f"{path.name} is not a Mamori system backup manifest")
    return data


def check_manifest(manifest: dict[str, Any], key: BackupKey) -> None:
    key_id = manifest.get("encryption", {}).get("key_id")
    if key_id != key.key_id:
        raise BackupKeyError(f"wrong backup key: the backup was encrypted with backup key {key_id}, the configured "
                             f"key ({key.source}) is {key.key_id}")
    if manifest.get("mac") != key.manifest_mac(_canonical(manifest)):
        raise BackupCorrupt("the manifest was modified (its HMAC does not match)")


# --- listing --------------------------------------------------------------------------------


def list_backups(directory: str | Path | None = None) -> list[Backup]:
    """Complete backups (file and manifest) in ``directory``, newest first. Unreadable manifests
    are listed too (``manifest`` then holds ``error``) so verify can name them."""
    folder = backup_dir(directory)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("mamori-*" + MANIFEST_SUFFIX):
        name = path.name[: -len(MANIFEST_SUFFIX)]
        if not _NAME_RE.match(name):
            continue
        try:
            manifest = read_manifest(path)
        except BackupCorrupt as exc:
            manifest = {"error": str(exc), "created": _time_from_name(name).isoformat()}
        found.append(Backup(name, folder, manifest))
    found.sort(key=lambda b: (b.created, b.name), reverse=True)
    return found


def _time_from_name(name: str) -> datetime:
    return datetime.strptime(name.split("-")[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def find_backup(name: str, directory: str | Path | None = None) -> Backup:
    name = (name or "").strip()
    for suffix in (SUFFIX, MANIFEST_SUFFIX):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    name = Path(name).name
    if not _NAME_RE.match(name):
        raise BackupError(f"{name!r} is not a backup name (mamori-YYYYMMDDTHHMMSSZ-xxxxxx).")
    for backup in list_backups(directory):
        if backup.name == name:
            return backup
    raise BackupError(f"No complete backup {name} in {backup_dir(directory)}.")


def newest_backup(directory: str | Path | None = None, *, engine: str | None = None) -> Backup | None:
    for backup in list_backups(directory):
        if "error" not in backup.manifest and (engine is None or backup.engine == engine):
            return backup
    return None


# --- create ---------------------------------------------------------------------------------


def _open_partial(path: Path):
    """The temporary output file (tests replace this to simulate a full disk)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


class _HashingWriter:
    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)


def create_backup(*, directory: str | Path | None = None, now: datetime | None = None) -> Backup:
    """Write one encrypted backup of the live database; return it. On any error nothing is left
    behind (partial files removed) and earlier backups are untouched."""
    key = load_backup_key()  # a missing or malformed key stops before anything is written
    engine = engines.engine_of()
    folder = backup_dir(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = now or timezone.now()
    name = f"mamori-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    backup = Backup(name, folder)
    partial = folder / f".{name}{SUFFIX}.partial"
    plain = folder / f".{name}.snapshot.partial"
    started = time.monotonic()
    try:
        with _open_partial(partial) as handle:
            out = _HashingWriter(handle)
            if engine == "sqlite":
                os.close(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                counts, migrations = engines.sqlite_snapshot(plain)
                with open(plain, "rb") as source:
                    result = encrypt_stream(source.read, out.write, key)
                dump_format = "sqlite3"
            else:
                with engines.pg_dump_stream() as (read, counts, migrations):
                    result = encrypt_stream(read, out.write, key)
                dump_format = "pg_dump-custom"
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, backup.path)
        backup.manifest = {
            "format": FORMAT, "name": name, "file": backup.file_name, "engine": engine, "dump_format": dump_format,
            "created": now.astimezone(UTC).isoformat(), "mamori_version": mamori_version(),
            "migrations": migrations, "tables": counts, "rows": sum(counts.values()),
            "plaintext": {"size": result.size, "sha256": result.sha256},
            "encrypted": {"size": out.size, "sha256": out.digest.hexdigest()},
            "encryption": {"algorithm": "AES-256-GCM", "kdf": "HKDF-SHA256", "key_id": key.key_id},
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        backup.manifest = write_manifest(backup.manifest_path, backup.manifest, key)
    except BaseException:
        backup.path.unlink(missing_ok=True)
        backup.manifest_path.unlink(missing_ok=True)
        raise
    finally:
        partial.unlink(missing_ok=True)
        plain.unlink(missing_ok=True)
        plain.with_name(plain.name + "-journal").unlink(missing_ok=True)
    return backup


# --- verify ---------------------------------------------------------------------------------


def _sha256_of(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def verify_backup(backup: Backup, key: BackupKey | None = None) -> None:
    """Check the manifest's HMAC, the file's SHA-256 and size, and decrypt it completely.

    Raises ``BackupCorrupt`` or ``BackupKeyError`` with a message that names the file."""
    key = key or load_backup_key()
    label = backup.file_name
    try:
        if "error" in backup.manifest:
            raise BackupCorrupt(backup.manifest["error"])
        check_manifest(backup.manifest, key)
        if not backup.path.is_file():
            raise BackupCorrupt("the backup file is missing")
        size, digest = _sha256_of(backup.path)
        expected = backup.manifest["encrypted"]
        if size != expected["size"]:
            raise BackupCorrupt(f"truncated or extended: {size} bytes, the manifest says {expected['size']}")
        if digest != expected["sha256"]:
            raise BackupCorrupt("modified: its SHA-256 differs from the manifest")
        with open(backup.path, "rb") as handle:
            result = decrypt_stream(handle, key)
        if (result.size, result.sha256) != (backup.manifest["plaintext"]["size"], backup.manifest["plaintext"]["sha256"]):
            raise BackupCorrupt("the decrypted content differs from the manifest")
    except BackupKeyError as exc:
        raise BackupKeyError(f"{label}: {exc}") from None
    except BackupCorrupt as exc:
        raise BackupCorrupt(f"{label}: {exc}") from None
    except OSError as exc:
        raise BackupCorrupt(f"{label}: unreadable: {exc}") from None


# --- off-site copy ----------------------------------------------------------------------------


def copy_offsite(backup: Backup, target: Path | None = None) -> Path:
    """Copy the backup and its manifest to the off-site directory; check the copy's SHA-256."""
    target = target or offsite_dir()
    if target is None:
        raise BackupError("No off-site target: set MAMORI_BACKUP_OFFSITE_DIR.")
    copy = target / backup.file_name
    partial = target / f".{backup.file_name}.partial"
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(backup.path, "rb") as source, _open_partial(partial) as out:
            shutil.copyfileobj(source, out, _READ)
            out.flush()
            os.fsync(out.fileno())
        size, digest = _sha256_of(partial)
        if (size, digest) != (backup.manifest["encrypted"]["size"], backup.manifest["encrypted"]["sha256"]):
            raise BackupError(f"the off-site copy of {backup.file_name} differs from the original (SHA-256)")
        os.replace(partial, copy)
        _atomic_write(target / backup.manifest_path.name, backup.manifest_path.read_bytes())
    except OSError as exc:
        raise BackupError(f"off-site copy of {backup.file_name} to {target} failed: {exc}") from None
    finally:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass  # the target is unusable (reported above)
    return copy


# --- generations ------------------------------------------------------------------------------


def choose_generations(items: Iterable[tuple[str, datetime]], *, keep_daily: int,
                       keep_weekly: int) -> dict[str, list[str]]:
    """Which backups to keep: ``{name: tags}``; every name not in the result is pruned.

    ``daily``: the newest backup of each of the ``keep_daily`` most recent UTC days that have a
    backup; ``weekly``: the same per ISO week (``keep_weekly`` weeks); ``latest``: the newest
    backup, always kept (a policy of 0 and 0 never deletes the last backup).
    """
    ordered = sorted(items, key=lambda item: (item[1], item[0]), reverse=True)
    kept: dict[str, list[str]] = {}
    if not ordered:
        return kept
    kept.setdefault(ordered[0][0], []).append("latest")

    def bucketed(bucket_of, limit: int, tag: str) -> None:
        seen: list = []
        for name, created in ordered:
            bucket = bucket_of(created.astimezone(UTC))
            if bucket in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(bucket)
            kept.setdefault(name, []).append(tag)

    bucketed(lambda t: t.date(), max(0, keep_daily), "daily")
    bucketed(lambda t: t.isocalendar()[:2], max(0, keep_weekly), "weekly")
    return kept


@dataclass
class PrunePlan:
    keep: dict[str, list[str]]
    delete: list[Backup]
    stale_partials: list[Path]


def prune_plan(directory: str | Path | None = None, *, keep_daily: int | None = None,
               keep_weekly: int | None = None, now: datetime | None = None) -> PrunePlan:
    backups = [b for b in list_backups(directory) if "error" not in b.manifest]
    keep = choose_generations([(b.name, b.created) for b in backups],
                              keep_daily=settings.BACKUP_KEEP_DAILY if keep_daily is None else keep_daily,
                              keep_weekly=settings.BACKUP_KEEP_WEEKLY if keep_weekly is None else keep_weekly)
    folder = backup_dir(directory)
    cutoff = (now or timezone.now()).timestamp() - timedelta(hours=6).total_seconds()
    stale = [p for p in folder.glob(".*.partial") if p.stat().st_mtime < cutoff] if folder.is_dir() else []
    return PrunePlan(keep, [b for b in backups if b.name not in keep], stale)


def delete_backup_files(backup: Backup, *, also_offsite: bool = True) -> list[Path]:
    removed = []
    folders = [backup.directory]
    offsite = offsite_dir()
    if also_offsite and offsite is not None and offsite.resolve() != backup.directory.resolve():
        folders.append(offsite)
    for folder in folders:
        for path in (folder / backup.file_name, folder / backup.manifest_path.name):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed
