"""Periodic jobs: registered once, enqueued by ``mamori worker`` exactly once per due time.

Apps register jobs in their ``ready()``::

    from mamori.core.schedule import register_periodic
    register_periodic("lifecycle.termination_reminders", timedelta(days=1), send_reminders_task,
                      at=time(0, 30))

``every`` is the period; ``at`` (UTC) fixes the first run at that time of day (later runs
follow every ``every``); without ``at`` the job first runs as soon as a worker sees it.

Each job has one ``operations.ScheduledRun`` row. A worker (``enqueue_due``) opens a
transaction, locks the row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction
starts with ``BEGIN IMMEDIATE``, the database's write lock), and when the job is due enqueues
its task and moves ``next_run_at`` forward in the same transaction. Any number of workers may
call it at once: exactly one enqueues each run. Runs missed while no worker was up are not
replayed one by one: the job runs once and continues at its next slot.

Jobs registered here: the daily system backup and prune, the restore drill (every
``MAMORI_BACKUP_DRILL_EVERY_DAYS`` days), the daily signed audit digests and the daily audit
retention purge. ``MAMORI_SCHEDULE=0`` turns the scheduler off (run the jobs from cron with
the ``mamori`` commands instead).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, close_old_connections, transaction
from django.utils import timezone

logger = logging.getLogger("mamori.schedule")
_NAME_RE = re.compile(r"^[a-z0-9_.:-]{1,100}$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: Any  # a django_tasks Task
    at: time | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


_jobs: dict[str, PeriodicJob] = {}
_lock = threading.Lock()
_builtins_loaded = False


def register_periodic(name: str, every: timedelta, task, *, at: time | None = None,
                      kwargs: dict[str, Any] | None = None) -> PeriodicJob:
    """Register (or replace) the periodic job ``name``."""
    if not _NAME_RE.match(name or ""):
        raise ValueError(f"Job name {name!r}: use 1–100 of a-z 0-9 . _ : -")
    if every < timedelta(minutes=1):
        raise ValueError("A periodic job runs at most once a minute.")
    if not hasattr(task, "enqueue"):
        raise TypeError("task must be a django_tasks task (decorated with @task())")
    job = PeriodicJob(name, every, task, at, dict(kwargs or {}))
    with _lock:
        _jobs[name] = job
    return job


def unregister_periodic(name: str) -> None:
    with _lock:
        _jobs.pop(name, None)


def parse_time(value: str, setting: str) -> time:
    match = _TIME_RE.match((value or "").strip())
    if not match:
        raise ValueError(f"{setting} must be a UTC time HH:MM, not {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _register_builtins() -> None:
    """Mamori's own periodic jobs (settings decide which and when)."""
    from mamori.audit.digests import seal_daily_digests
    from mamori.evidence.tasks import purge_expired_audit_events
    from mamori.lifecycle.backup_tasks import (
        prune_backups_task,
        restore_drill_task,
        system_backup_task,
    )

    day = timedelta(days=1)
    register_periodic("audit.daily_digests", day, seal_daily_digests, at=time(0, 5))
    register_periodic("audit.retention_purge", day, purge_expired_audit_events, at=time(0, 20))
    if getattr(settings, "BACKUP_SCHEDULE", True):
        at = parse_time(settings.BACKUP_TIME, "MAMORI_BACKUP_TIME")
        register_periodic("backup.create", day, system_backup_task, at=at)
        prune_at = (datetime.combine(datetime(2000, 1, 1), at) + timedelta(minutes=30)).time()
        register_periodic("backup.prune", day, prune_backups_task, at=prune_at)
    if getattr(settings, "BACKUP_DRILL_SCHEDULE", True) and settings.BACKUP_DRILL_EVERY_DAYS > 0:
        register_periodic("backup.drill", timedelta(days=settings.BACKUP_DRILL_EVERY_DAYS), restore_drill_task,
                          at=parse_time(settings.BACKUP_DRILL_TIME, "MAMORI_BACKUP_DRILL_TIME"))


def registered_jobs() -> dict[str, PeriodicJob]:
    global _builtins_loaded
    if not _builtins_loaded:
        with _lock:
            load = not _builtins_loaded
            _builtins_loaded = True
        if load:
            _register_builtins()
    with _lock:
        return dict(_jobs)


def first_run(job: PeriodicJob, now: datetime) -> datetime:
    if job.at is None:
        return now
    candidate = datetime.combine(now.astimezone(UTC).date(), job.at, tzinfo=UTC)
    return candidate if candidate >= now else candidate + timedelta(days=1)


def next_run(job: PeriodicJob, due: datetime, now: datetime) -> datetime:
    """The first slot ``due + k * every`` (k ≥ 1) after ``now``: missed slots are skipped."""
    steps = max(1, int((now - due) / job.every) + 1)
    return due + steps * job.every


def _enqueue_if_due(job: PeriodicJob, now: datetime) -> bool:
    from mamori.operations.models import ScheduledRun

    with transaction.atomic():
        row = ScheduledRun.objects.select_for_update().filter(name=job.name).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = ScheduledRun.objects.create(name=job.name, next_run_at=first_run(job, now))
            except IntegrityError:  # another worker created it first
                row = ScheduledRun.objects.select_for_update().get(name=job.name)
        if row.next_run_at > now:
            return False
        result = job.task.enqueue(**job.kwargs)
        row.last_run_at = now
        row.last_task_id = str(result.id)[:64]
        row.runs += 1
        row.next_run_at = next_run(job, row.next_run_at, now)
        row.save(update_fields=["last_run_at", "last_task_id", "runs", "next_run_at"])
        return True


def enqueue_due(now: datetime | None = None) -> list[str]:
    """Enqueue every registered job that is due; return their names. Safe to call from any
    number of workers at once."""
    if not getattr(settings, "SCHEDULE_ENABLED", True):
        return []
    now = now or timezone.now()
    enqueued = []
    for job in registered_jobs().values():
        try:
            if _enqueue_if_due(job, now):
                enqueued.append(job.name)
                logger.info("scheduled job enqueued", extra={"job": job.name})
        except OperationalError as exc:  # a locked SQLite database: the next round retries
            logger.warning("scheduler skipped %s: %s", job.name, exc)
    return enqueued


class SchedulerThread(threading.Thread):
    """Calls ``enqueue_due`` every ``interval`` seconds inside ``mamori worker``, the first time
    ``first_delay`` seconds after the worker started (a worker restarted in a loop, or started for
    a short batch of work, does not enqueue periodic jobs on its way)."""

    def __init__(self, interval: float = 30.0, first_delay: float = 60.0):
        super().__init__(name="mamori-scheduler", daemon=True)
        self.interval = interval
        self.first_delay = first_delay
        self.stopped = threading.Event()

    def run(self) -> None:
        if self.stopped.wait(self.first_delay):
            return
        while not self.stopped.is_set():
            try:
                close_old_connections()
                enqueue_due()
            except Exception:  # the scheduler must outlive a bad round; the error is logged
                logger.exception("scheduler round failed")
            finally:
                close_old_connections()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
