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

The schedule table (``settings.MAMORI_SCHEDULES``, read from the TOML file named by
``MAMORI_SCHEDULES_FILE``; docs/operations/schedules.md) overrides the registered default of
any job: ``{"backup.create": {"every": "1d", "at": "16:00", "enabled": True}}``. ``every``
is ``<n>m``, ``<n>h`` or ``<n>d``; ``at`` a UTC time ``HH:MM``; ``enabled`` false stops the
job (the provider console shows it as disabled on purpose). A changed period or time moves
the next run once. Names in the table that no app registered are reported by ``mamori
check`` (warning ``mamori.W301``); malformed entries are errors (``mamori.E301``) and are
ignored at run time (the job keeps its default).

The result of every run (start, end, success or the exception, duration) is written to the
job's ``ScheduledRun`` row from django_tasks' ``task_started``/``task_finished`` signals;
``run_now`` enqueues a job at once for the provider console's "run now" (audited by the
caller, ``mamori.operations.actions_schedules``).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, close_old_connections, transaction
from django.utils import timezone

logger = logging.getLogger("mamori.schedule")
_NAME_RE = re.compile(r"^[a-z0-9_.:-]{1,100}$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_EVERY_RE = re.compile(r"^([1-9]\d{0,4})\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: Any  # a django_tasks Task
    at: time | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    # The app's registered default, before the schedule table (shown next to overrides).
    default_every: timedelta | None = None
    default_at: time | None = None
    overridden: bool = False

    @property
    def schedule_key(self) -> str:
        """Identifies period and time of day; a change moves ``next_run_at`` once."""
        return f"{int(self.every.total_seconds())}s@{self.at.strftime('%H:%M') if self.at else '-'}"


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
    job = PeriodicJob(name, every, task, at, dict(kwargs or {}), default_every=every, default_at=at)
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


def parse_every(value: str) -> timedelta:
    """``"10m"``, ``"1h"``, ``"7d"`` → timedelta (at least one minute)."""
    match = _EVERY_RE.match(str(value or "").strip().lower())
    if not match:
        raise ValueError(f"'every' must look like 10m, 1h or 7d, not {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_every(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Override:
    every: timedelta | None = None
    at: time | None = None
    at_set: bool = False  # "at" present in the table (an empty string clears the default time)
    enabled: bool = True


def parse_table(table: Any) -> tuple[dict[str, Override], list[str]]:
    """Validate ``settings.MAMORI_SCHEDULES``: (overrides by job name, error messages)."""
    overrides: dict[str, Override] = {}
    errors: list[str] = []
    if not table:
        return overrides, errors
    if not isinstance(table, dict):
        return overrides, ["MAMORI_SCHEDULES must be a table of job name → {every, at, enabled}"]
    for name, entry in table.items():
        if not isinstance(entry, dict):
            errors.append(f"{name}: expected a table with every/at/enabled")
            continue
        unknown = set(entry) - {"every", "at", "enabled"}
        if unknown:
            errors.append(f"{name}: unknown keys {', '.join(sorted(unknown))} (use every, at, enabled)")
            continue
        try:
            every = parse_every(entry["every"]) if "every" in entry else None
            at_value = entry.get("at")
            at = parse_time(at_value, f"{name}.at") if at_value not in (None, "") else None
            enabled = entry.get("enabled", True)
            if not isinstance(enabled, bool):
                raise ValueError(f"'enabled' must be true or false, not {enabled!r}")
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
            continue
        overrides[str(name)] = Override(every, at, "at" in entry, enabled)
    return overrides, errors


def schedule_table() -> dict[str, Override]:
    overrides, errors = parse_table(getattr(settings, "MAMORI_SCHEDULES", {}))
    for error in errors:
        logger.warning("MAMORI_SCHEDULES entry ignored: %s", error)
    return overrides


def _apply(job: PeriodicJob, override: Override | None) -> PeriodicJob:
    if override is None:
        return job
    return replace(job, every=override.every or job.every, at=override.at if override.at_set else job.at,
                   enabled=override.enabled, overridden=True)


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
        jobs = dict(_jobs)
    table = schedule_table()
    return {name: _apply(job, table.get(name)) for name, job in sorted(jobs.items())}


def first_run(job: PeriodicJob, now: datetime) -> datetime:
    if job.at is None:
        return now
    candidate = datetime.combine(now.astimezone(UTC).date(), job.at, tzinfo=UTC)
    return candidate if candidate >= now else candidate + timedelta(days=1)


def next_run(job: PeriodicJob, due: datetime, now: datetime) -> datetime:
    """The first slot ``due + k * every`` (k ≥ 1) after ``now``: missed slots are skipped."""
    steps = max(1, int((now - due) / job.every) + 1)
    return due + steps * job.every


def _locked_row(job: PeriodicJob, now: datetime):
    """The job's row, locked for this transaction (created on first sight)."""
    from mamori.operations.models import ScheduledRun

    row = ScheduledRun.objects.select_for_update().filter(name=job.name).first()
    if row is None:
        try:
            with transaction.atomic():
                row = ScheduledRun.objects.create(name=job.name, next_run_at=first_run(job, now),
                                                  schedule_key=job.schedule_key)
        except IntegrityError:  # another worker created it first
            row = ScheduledRun.objects.select_for_update().get(name=job.name)
    if row.schedule_key != job.schedule_key:
        if row.schedule_key:  # the schedule table changed period or time: move the next run once
            if job.at is not None:
                row.next_run_at = first_run(job, now)
            elif row.last_run_at is not None:
                row.next_run_at = row.last_run_at + job.every
        row.schedule_key = job.schedule_key
        row.save(update_fields=["schedule_key", "next_run_at"])
    return row


def _enqueue(job: PeriodicJob, trigger: str):
    # Immediate backends run the task inside enqueue(), before its id is stored on the row.
    _running.name, _running.path = job.name, getattr(job.task, "module_path", "")
    try:
        return job.task.enqueue(**job.kwargs)
    finally:
        _running.name = _running.path = None


def _enqueue_if_due(job: PeriodicJob, now: datetime) -> bool:
    with transaction.atomic():
        row = _locked_row(job, now)
        if row.next_run_at > now:
            return False
        result = _enqueue(job, "schedule")
        row.refresh_from_db(fields=["last_started_at", "last_finished_at", "last_ok", "last_error",
                                    "last_duration_ms", "last_trigger"])
        row.last_run_at = now
        row.last_task_id = str(result.id)[:64]
        row.last_trigger = "schedule"
        row.runs += 1
        row.next_run_at = next_run(job, row.next_run_at, now)
        row.save(update_fields=["last_run_at", "last_task_id", "runs", "next_run_at", "last_trigger"])
        return True


def run_now(name: str, now: datetime | None = None):
    """Enqueue job ``name`` at once (the console's "run now"); its next scheduled run stays.
    Returns the ``ScheduledRun`` row. Raises ``KeyError`` for an unknown job."""
    job = registered_jobs()[name]
    now = now or timezone.now()
    with transaction.atomic():
        row = _locked_row(job, now)
        result = _enqueue(job, "manual")
        row.refresh_from_db(fields=["last_started_at", "last_finished_at", "last_ok", "last_error",
                                    "last_duration_ms"])
        row.last_run_at = now
        row.last_task_id = str(result.id)[:64]
        row.last_trigger = "manual"
        row.runs += 1
        row.save(update_fields=["last_run_at", "last_task_id", "runs", "last_trigger"])
    return row


# --- Results of runs: django_tasks signals ---------------------------------------------------

_running = threading.local()


def _rows_for(task_result):
    from mamori.operations.models import ScheduledRun

    name = getattr(_running, "name", None)
    if name:
        if getattr(task_result.task, "module_path", "") != _running.path:
            return ScheduledRun.objects.none()  # a task the job itself enqueued, run inline
        return ScheduledRun.objects.filter(name=name)
    return ScheduledRun.objects.filter(last_task_id=str(task_result.id)[:64])


def _error_text(task_result) -> str:
    errors = getattr(task_result, "errors", None) or []
    if not errors:
        return ""
    error = errors[-1]
    lines = [line.strip() for line in (getattr(error, "traceback", "") or "").splitlines() if line.strip()]
    text = lines[-1] if lines else getattr(error, "exception_class_path", "") or "error"
    return text[:500]


def task_started_receiver(sender, task_result, **kwargs) -> None:
    try:
        started = getattr(task_result, "started_at", None) or timezone.now()
        _rows_for(task_result).update(last_started_at=started, last_finished_at=None, last_ok=None,
                                      last_error="", last_duration_ms=None)
    except Exception:  # recording a result must never fail the task itself
        logger.exception("could not record the start of a scheduled job")


def task_finished_receiver(sender, task_result, **kwargs) -> None:
    try:
        finished = getattr(task_result, "finished_at", None) or timezone.now()
        started = getattr(task_result, "started_at", None)
        ok = getattr(task_result, "status", None) == "SUCCESSFUL"
        duration = max(0, int((finished - started).total_seconds() * 1000)) if started else None
        updated = _rows_for(task_result).update(last_finished_at=finished, last_ok=ok, last_duration_ms=duration,
                                                last_error="" if ok else _error_text(task_result))
        if updated and not ok:
            logger.warning("scheduled job failed", extra={"task_id": str(task_result.id)})
    except Exception:
        logger.exception("could not record the result of a scheduled job")


def connect_result_signals() -> None:
    """Called from ``OperationsConfig.ready()``."""
    from django_tasks.signals import task_finished, task_started

    task_started.connect(task_started_receiver, dispatch_uid="mamori.schedule.started")
    task_finished.connect(task_finished_receiver, dispatch_uid="mamori.schedule.finished")


def enqueue_due(now: datetime | None = None) -> list[str]:
    """Enqueue every registered job that is due; return their names. Safe to call from any
    number of workers at once."""
    if not getattr(settings, "SCHEDULE_ENABLED", True):
        return []
    now = now or timezone.now()
    enqueued = []
    for job in registered_jobs().values():
        if not job.enabled:
            continue
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
