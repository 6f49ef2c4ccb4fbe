"""Background jobs for system backups, run by ``mamori worker`` on the schedule of
``mamori.core.schedule`` (daily backup, daily prune, weekly restore drill)."""

from __future__ import annotations

from django_tasks import task

from mamori.audit.events import Actor


@task()
def system_backup_task() -> str:
    from mamori.lifecycle.backup_jobs import run_backup

    backup, row = run_backup(actor=Actor.system("scheduled backup"))
    return f"{backup.file_name} ({row.offsite_state})"


@task()
def prune_backups_task() -> int:
    from mamori.lifecycle.backup_jobs import run_prune

    return len(run_prune(actor=Actor.system("scheduled prune")).delete)


@task()
def restore_drill_task() -> str:
    from mamori.lifecycle.backup_restore import run_drill

    return run_drill(actor=Actor.system("scheduled restore drill")).result
