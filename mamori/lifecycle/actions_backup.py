"""System backup actions: each records what happened in the provider log, in one transaction.

The file work (snapshot, encryption, copies, restores) is done by ``mamori.lifecycle.backup``,
``backup_restore`` and ``backup_jobs``; these actions write the ``SystemBackup`` and
``RestoreDrill`` rows and the provider-log events. Nothing here holds customer data: file
names, sizes, hashes, row counts, check results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.lifecycle.models import RestoreDrill, SystemBackup

Offsite = SystemBackup.Offsite


def _target(file_name: str) -> tuple[str, str, str]:
    return ("system_backup", file_name, file_name)


@action
def record_backup_created(*, actor: Actor, manifest: dict[str, Any], offsite_state: str = Offsite.NONE,
                          offsite_error: str = "") -> SystemBackup:
    """A backup file and its manifest were written (and copied off-site, or not)."""
    created = datetime.fromisoformat(manifest["created"])
    row, _ = SystemBackup.objects.update_or_create(file_name=manifest["file"], defaults={
        "created_at": created, "engine": manifest["engine"], "size": manifest["encrypted"]["size"],
        "sha256": manifest["encrypted"]["sha256"], "plaintext_size": manifest["plaintext"]["size"],
        "plaintext_sha256": manifest["plaintext"]["sha256"], "key_id": manifest["encryption"]["key_id"],
        "rows": manifest.get("rows", 0), "mamori_version": manifest.get("mamori_version", ""),
        "offsite_state": offsite_state, "offsite_error": offsite_error[:2000],
        "offsite_at": timezone.now() if offsite_state == Offsite.COPIED else None,
    })
    record_provider_event("backup.created", actor=actor, target=_target(row.file_name), after={
        "engine": row.engine, "size": row.size, "sha256": row.sha256, "rows": row.rows, "key_id": row.key_id,
        "tables": len(manifest.get("tables", {})), "offsite": offsite_state,
        **({"offsite_error": offsite_error[:500]} if offsite_error else {})})
    return row


@action
def record_backup_failed(*, actor: Actor, error: str) -> None:
    """A backup attempt failed; nothing was kept."""
    record_provider_event("backup.failed", actor=actor, target=("system_backup", "", ""),
                          after={"error": str(error)[:1000]})


@action
def record_backup_verified(*, actor: Actor, file_name: str, ok: bool, error: str = "") -> SystemBackup | None:
    """``mamori backup verify`` checked one backup (hashes, full decryption)."""
    row = SystemBackup.objects.filter(file_name=file_name).first()
    if row is not None:
        row.verified_at, row.verify_ok, row.verify_error = timezone.now(), ok, error[:2000]
        row.save(update_fields=["verified_at", "verify_ok", "verify_error"])
    record_provider_event("backup.verified", actor=actor, target=_target(file_name),
                          after={"ok": ok, **({"error": error[:500]} if error else {})})
    return row


@action
def record_backups_pruned(*, actor: Actor, kept: dict[str, list[str]], deleted: list[str]) -> int:
    """The generation policy ran: ``deleted`` files were removed, ``kept`` carry their tags."""
    now = timezone.now()
    SystemBackup.objects.filter(file_name__in=deleted).update(pruned_at=now, tags="")
    for file_name, tags in kept.items():
        SystemBackup.objects.filter(file_name=file_name).update(tags=",".join(tags))
    record_provider_event("backup.pruned", actor=actor, target=("system_backup", "", ""),
                          after={"deleted": deleted[:200], "kept": len(kept)})
    return len(deleted)


@action
def record_backup_restored(*, actor: Actor, file_name: str, target: str, live: bool,
                           rows: int = 0) -> None:
    """A backup was restored into ``target`` (a SQLite file or PostgreSQL database name)."""
    record_provider_event("backup.restored", actor=actor, target=_target(file_name),
                          after={"target": target, "live": live, "rows": rows})


@action
def start_restore_drill(*, actor: Actor, backup_file: str) -> RestoreDrill:
    drill = RestoreDrill.objects.create(started_at=timezone.now(), backup_file=backup_file)
    record_provider_event("backup.drill_started", actor=actor, target=("restore_drill", drill.pk, backup_file))
    return drill


@action
def finish_restore_drill(*, actor: Actor, drill_id: int, ok: bool, checks: list[dict[str, Any]],
                         figures: dict[str, Any], error: str = "") -> RestoreDrill:
    drill = RestoreDrill.objects.select_for_update().get(pk=drill_id)
    drill.finished_at = timezone.now()
    drill.result = RestoreDrill.Result.PASSED if ok else RestoreDrill.Result.FAILED
    drill.checks, drill.figures, drill.error = checks, figures, error[:4000]
    drill.save(update_fields=["finished_at", "result", "checks", "figures", "error"])
    record_provider_event("backup.drill_finished", actor=actor, target=("restore_drill", drill.pk, drill.backup_file),
                          after={"result": drill.result, "failed_checks": [c["name"] for c in checks if not c["ok"]],
                                 **({"error": error[:500]} if error else {})})
    return drill
