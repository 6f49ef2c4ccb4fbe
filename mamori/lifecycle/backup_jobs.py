"""System backup operations with their audit trail: what the command and the worker call.

Each function does the file work (``mamori.lifecycle.backup`` / ``backup_restore``) and then
records the outcome through an action of ``mamori.lifecycle.actions_backup``.
"""

from __future__ import annotations

from pathlib import Path

from mamori.audit.events import Actor
from mamori.lifecycle import actions_backup
from mamori.lifecycle.backup import (
    Backup,
    BackupError,
    PrunePlan,
    copy_offsite,
    create_backup,
    delete_backup_files,
    offsite_dir,
    prune_plan,
)
from mamori.lifecycle.models import SystemBackup


def run_backup(*, actor: Actor, directory: str | Path | None = None) -> tuple[Backup, SystemBackup]:
    """Create a backup, copy it off-site when configured, record both. A failed backup is recorded
    (``backup.failed``) and re-raised; a failed off-site copy is recorded on the backup's row."""
    try:
        backup = create_backup(directory=directory)
    except Exception as exc:
        actions_backup.record_backup_failed(actor=actor, error=f"{type(exc).__name__}: {exc}")
        raise
    state, error = SystemBackup.Offsite.NONE, ""
    if offsite_dir() is not None:
        try:
            copy_offsite(backup)
            state = SystemBackup.Offsite.COPIED
        except BackupError as exc:
            state, error = SystemBackup.Offsite.FAILED, str(exc)
    row = actions_backup.record_backup_created(actor=actor, manifest=backup.manifest, offsite_state=state,
                                               offsite_error=error)
    return backup, row


def run_prune(*, actor: Actor, directory: str | Path | None = None, dry_run: bool = False,
              keep_daily: int | None = None, keep_weekly: int | None = None) -> PrunePlan:
    """Apply the generation policy: delete every backup it does not keep (and its off-site copy)."""
    plan = prune_plan(directory, keep_daily=keep_daily, keep_weekly=keep_weekly)
    if dry_run:
        return plan
    for backup in plan.delete:
        delete_backup_files(backup)
    for path in plan.stale_partials:
        path.unlink(missing_ok=True)
    kept_files = {name + ".mbk": tags for name, tags in plan.keep.items()}
    actions_backup.record_backups_pruned(actor=actor, kept=kept_files, deleted=[b.file_name for b in plan.delete])
    return plan
