"""Restoring system backups, and the restore drill.

``restore_backup`` first verifies the whole backup (a corrupted or truncated file is refused
before anything is written), then restores into a named target: a SQLite file or a
PostgreSQL database on the live server. The live database is never a silent target: the
caller must pass ``force`` (the command also asks for typed confirmation or ``--yes``).
SQLite restores are decrypted into a temporary file beside the target, checked
(``integrity_check`` and row counts) and then renamed (or copied into the live database with
the backup API); PostgreSQL restores run ``pg_restore --single-transaction``, and a database
created for the restore is dropped again if it fails.

``run_drill`` restores the newest backup into a scratch database (a temporary SQLite file, or
a PostgreSQL database created and dropped), compares the row counts of every table with the
manifest, checks that every migration is applied, verifies the audit chain of every tenant and
of the provider log with ``mamori.audit.verify`` against the scratch copy, and records a
``RestoreDrill``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamori.audit.events import Actor
from mamori.lifecycle import backup_engines as engines
from mamori.lifecycle.backup import Backup, BackupError, backup_dir, newest_backup, verify_backup
from mamori.lifecycle.backup_crypto import BackupKey, decrypt_stream, load_backup_key


@dataclass(frozen=True)
class RestoreTarget:
    engine: str
    name: str  # SQLite: absolute file path; PostgreSQL: database name
    live: bool
    exists: bool  # exists and holds tables (restoring over it needs force)

    def describe(self) -> str:
        return f"{'live ' if self.live else ''}{self.engine} {'file' if self.engine == 'sqlite' else 'database'} {self.name}"


def _live_sqlite_path() -> Path | None:
    sd = engines.live_settings()
    if engines.engine_of(sd) != "sqlite":
        return None
    name = str(sd["NAME"])
    return None if name.startswith("file:") or name == ":memory:" else Path(name).resolve()


def resolve_target(backup: Backup, target: str) -> RestoreTarget:
    target = (target or "").strip()
    if not target:
        raise BackupError("Name the target: a SQLite file path or a PostgreSQL database name (--target).")
    if backup.engine == "sqlite":
        path = Path(target).expanduser().resolve()
        if path.is_dir():
            raise BackupError(f"{path} is a directory; give the SQLite file to restore into.")
        live = _live_sqlite_path()
        return RestoreTarget("sqlite", str(path), live is not None and path == live,
                             path.exists() and path.stat().st_size > 0)
    if backup.engine == "postgresql":
        if engines.engine_of() != "postgresql":
            raise BackupError("A PostgreSQL backup restores into a PostgreSQL server: set DATABASE_URL to it.")
        if not engines.valid_identifier(target):
            raise BackupError(f"{target!r} is not a plain database name (letters, digits, underscore).")
        exists = engines.pg_database_exists(target) and engines.pg_database_has_tables(target)
        return RestoreTarget("postgresql", target, target == engines.live_settings()["NAME"], exists)
    raise BackupError(f"{backup.file_name}: unknown engine {backup.engine!r}.")


def _compare_counts(backup: Backup, counts: dict[str, int]) -> list[str]:
    expected = backup.manifest.get("tables", {})
    problems = [f"{t}: {counts.get(t)} rows, the manifest says {n}" for t, n in sorted(expected.items())
                if counts.get(t) != n]
    problems += [f"{t}: not in the manifest" for t in sorted(set(counts) - set(expected))]
    return problems


def _restore_sqlite_file(backup: Backup, key: BackupKey, path: Path) -> dict[str, int]:
    """Decrypt into a private temporary file in ``path``'s directory and check it; return the
    row counts. The caller moves it into place. ``path`` itself is not touched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, open(backup.path, "rb") as source:
            decrypt_stream(source, key, out.write)
            out.flush()
            os.fsync(out.fileno())
        counts, _migrations = engines.sqlite_check_file(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return counts


def restore_backup(backup: Backup, target: RestoreTarget, *, force: bool = False,
                   key: BackupKey | None = None) -> dict[str, Any]:
    """Restore ``backup`` into ``target``; return ``{"rows", "seconds"}``. Refuses a backup that
    fails verification, and the live database or an existing non-empty target without ``force``."""
    key = key or load_backup_key()
    if target.live and not force:
        raise BackupError(f"{target.name} is the live database: restoring over it needs --force and confirmation.")
    if target.exists and not force:
        raise BackupError(f"{target.describe()} exists and is not empty: use --force to replace it.")
    verify_backup(backup, key)  # refuses a corrupted, truncated or foreign backup before writing anything
    started = time.monotonic()
    if target.engine == "sqlite":
        final = Path(target.name)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.restore.partial")
        try:
            counts = _restore_sqlite_file(backup, key, tmp)
            problems = _compare_counts(backup, counts)
            if problems:
                raise BackupError(f"{backup.file_name}: restored rows differ from the manifest: {problems[:5]}")
            if target.live:
                engines.sqlite_copy_into_live(tmp)
            else:
                for suffix in ("-wal", "-shm", "-journal"):
                    final.with_name(final.name + suffix).unlink(missing_ok=True)
                os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        created = not engines.pg_database_exists(target.name)
        if created:
            engines.pg_create_database(target.name)
        try:
            with open(backup.path, "rb") as source:
                engines.pg_restore_into(target.name, lambda write: decrypt_stream(source, key, write),
                                        clean=not created)
            counts, _migrations = engines.pg_target_counts(target.name)
            problems = _compare_counts(backup, counts)
            if problems:
                raise BackupError(f"{backup.file_name}: restored rows differ from the manifest: {problems[:5]}")
        except BaseException:
            if created:
                engines.pg_drop_database(target.name)
            raise
    return {"rows": sum(counts.values()), "seconds": round(time.monotonic() - started, 3)}


# --- restore drill ----------------------------------------------------------------------------


def _check(checks: list[dict], name: str, ok: bool, detail: str) -> bool:
    checks.append({"name": name, "ok": bool(ok), "detail": detail[:1000]})
    return ok


def _checks_inside(scratch: str, backup: Backup, checks: list[dict], figures: dict) -> None:
    """Run the Django-level checks with the scratch copy as this thread's default database."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from mamori.audit.verify import verify_across_tenants

    with engines.use_database(scratch):
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        applied = sorted(f"{app}.{name}" for app, name in executor.loader.applied_migrations)
        same = applied == sorted(backup.manifest.get("migrations", []))
        _check(checks, "migrations", not pending and same,
               f"{len(applied)} applied, {len(pending)} pending" + ("" if same else "; differs from the manifest")
               + (f" (first pending: {pending[0][0].app_label}.{pending[0][0].name})" if pending else ""))
        started = time.monotonic()
        reports = verify_across_tenants(record=False)
        figures["audit_seconds"] = round(time.monotonic() - started, 3)
        failed = [r.describe() for r in reports if not r.ok]
        figures["chains"] = len(reports)
        figures["events"] = sum(r.count for r in reports)
        _check(checks, "audit_chains", not failed,
               f"{len(reports)} chains, {figures['events']} events" + (f"; FAILED: {failed[:3]}" if failed else ""))


def run_drill(*, actor: Actor, directory: str | Path | None = None):
    """Restore the newest backup into a scratch database, check it, record a ``RestoreDrill``."""
    from mamori.lifecycle.actions_backup import finish_restore_drill, start_restore_drill

    engine = engines.engine_of()
    backup = newest_backup(directory, engine=engine)
    drill = start_restore_drill(actor=actor, backup_file=backup.file_name if backup else "")
    checks: list[dict[str, Any]] = []
    figures: dict[str, Any] = {"engine": engine}
    error = ""
    scratch_dir = None
    scratch_db = ""
    try:
        if backup is None:
            raise BackupError(f"No {engine} backup in {backup_dir(directory)} to restore.")
        key = load_backup_key()
        figures.update(size=backup.manifest["encrypted"]["size"], rows=backup.manifest.get("rows", 0),
                       tables=len(backup.manifest.get("tables", {})), backup_created=backup.manifest["created"])
        started = time.monotonic()
        verify_backup(backup, key)
        figures["verify_seconds"] = round(time.monotonic() - started, 3)
        _check(checks, "verify", True, "hashes match and every chunk decrypts")
        started = time.monotonic()
        if engine == "sqlite":
            scratch_dir = tempfile.mkdtemp(prefix="mamori-drill-")
            scratch = str(Path(scratch_dir) / "drill.sqlite3")
            counts = _restore_sqlite_file(backup, key, Path(scratch))
        else:
            scratch_db = scratch = f"mamori_drill_{secrets.token_hex(4)}"
            engines.pg_create_database(scratch)
            with open(backup.path, "rb") as source:
                engines.pg_restore_into(scratch, lambda write: decrypt_stream(source, key, write), clean=False)
            counts, _ = engines.pg_target_counts(scratch)
        figures["restore_seconds"] = round(time.monotonic() - started, 3)
        problems = _compare_counts(backup, counts)
        _check(checks, "row_counts", not problems,
               f"{len(counts)} tables, {sum(counts.values())} rows" + (f"; differ: {problems[:5]}" if problems else ""))
        _checks_inside(scratch, backup, checks, figures)
    except Exception as exc:  # recorded as the drill's error; the drill itself must not crash the worker
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if scratch_db:
            try:
                engines.pg_drop_database(scratch_db)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                error = error or f"could not drop the scratch database {scratch_db}: {exc}"
        if scratch_dir:
            shutil.rmtree(scratch_dir, ignore_errors=True)
    ok = not error and bool(checks) and all(c["ok"] for c in checks)
    return finish_restore_drill(actor=actor, drill_id=drill.pk, ok=ok, checks=checks, figures=figures, error=error)
