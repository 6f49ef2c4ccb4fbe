"""Periodic jobs: due-time arithmetic, registration, and exactly-once enqueueing across workers."""

from __future__ import annotations

import signal
import subprocess
import time as clock
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from mamori.core import schedule
from mamori.operations.models import ScheduledRun
from tests.cli.support import (  # noqa: F401 (fixtures)
    REPO,
    mamori_cmd,
    mamori_env,
    migrated_sqlite_template,
    postgres_url_for_current_test_db,
    run_mamori,
    sqlite_data_dir,
)
from tests.operations.worker_probe import append_line

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PROBE_PATH = "tests.operations.worker_probe.append_line"


@pytest.fixture
def only_test_jobs(monkeypatch):
    """A registry holding only the jobs a test registers (no built-in jobs)."""
    monkeypatch.setattr(schedule, "_jobs", {})
    monkeypatch.setattr(schedule, "_builtins_loaded", True)


def _probe_runs() -> int:
    return DBTaskResult.objects.filter(task_path=PROBE_PATH).count()


def test_first_and_next_run_times():
    daily_at = schedule.PeriodicJob("x", timedelta(days=1), append_line, at=time(3, 0))
    assert schedule.first_run(daily_at, NOW) == datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    assert schedule.first_run(daily_at, datetime(2026, 3, 10, 2, 0, tzinfo=UTC)) == datetime(2026, 3, 10, 3, 0,
                                                                                               tzinfo=UTC)
    asap = schedule.PeriodicJob("y", timedelta(hours=1), append_line)
    assert schedule.first_run(asap, NOW) == NOW
    due = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert schedule.next_run(daily_at, due, due) == due + timedelta(days=1)
    # A worker that was down for three and a half days runs once, then continues at the next slot.
    assert schedule.next_run(daily_at, due, due + timedelta(days=3, hours=12)) == due + timedelta(days=4)
    assert schedule.next_run(daily_at, due, due + timedelta(days=2)) == due + timedelta(days=3)


def test_registration_is_validated(only_test_jobs):
    with pytest.raises(ValueError, match="Job name"):
        schedule.register_periodic("Bad Name!", timedelta(days=1), append_line)
    with pytest.raises(ValueError, match="once a minute"):
        schedule.register_periodic("fast", timedelta(seconds=5), append_line)
    with pytest.raises(TypeError, match="django_tasks task"):
        schedule.register_periodic("plain", timedelta(days=1), print)
    with pytest.raises(ValueError, match="MAMORI_BACKUP_TIME"):
        schedule.parse_time("25:00", "MAMORI_BACKUP_TIME")
    schedule.register_periodic("ok", timedelta(days=1), append_line, at=time(1, 2))
    assert list(schedule.registered_jobs()) == ["ok"]


def test_builtin_jobs_follow_the_settings(monkeypatch, settings):
    monkeypatch.setattr(schedule, "_jobs", {})
    monkeypatch.setattr(schedule, "_builtins_loaded", False)
    jobs = schedule.registered_jobs()
    assert {"audit.daily_digests", "audit.retention_purge", "backup.create", "backup.prune",
            "backup.drill"} <= set(jobs)
    assert jobs["backup.create"].at == time(17, 0) and jobs["backup.prune"].at == time(17, 30)
    assert jobs["backup.drill"].every == timedelta(days=7)
    monkeypatch.setattr(schedule, "_jobs", {})
    monkeypatch.setattr(schedule, "_builtins_loaded", False)
    settings.BACKUP_SCHEDULE = False
    settings.BACKUP_DRILL_SCHEDULE = False
    jobs = schedule.registered_jobs()
    assert "backup.create" not in jobs and "backup.drill" not in jobs and "audit.daily_digests" in jobs


def test_a_due_job_is_enqueued_once_per_slot(db, only_test_jobs, tmp_path):
    schedule.register_periodic("probe", timedelta(hours=1), append_line, kwargs={"path": str(tmp_path / "x"),
                                                                                 "number": 1})
    assert schedule.enqueue_due(NOW) == ["probe"]  # no ``at``: due at first sight
    assert schedule.enqueue_due(NOW) == []
    assert schedule.enqueue_due(NOW + timedelta(minutes=59)) == []
    assert schedule.enqueue_due(NOW + timedelta(hours=1)) == ["probe"]
    assert schedule.enqueue_due(NOW + timedelta(hours=5, minutes=30)) == ["probe"]  # missed slots: one run
    assert schedule.enqueue_due(NOW + timedelta(hours=5, minutes=50)) == []
    row = ScheduledRun.objects.get(name="probe")
    assert row.runs == 3 and row.next_run_at == NOW + timedelta(hours=6)
    assert _probe_runs() == 3
    result = DBTaskResult.objects.get(id=row.last_task_id)
    assert result.args_kwargs["kwargs"] == {"path": str(tmp_path / "x"), "number": 1}


def test_scheduler_can_be_switched_off(db, only_test_jobs, settings, tmp_path):
    settings.SCHEDULE_ENABLED = False
    schedule.register_periodic("probe", timedelta(hours=1), append_line, kwargs={"path": str(tmp_path / "x"),
                                                                                 "number": 1})
    assert schedule.enqueue_due(NOW) == [] and _probe_runs() == 0


@pytest.fixture
def keep_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.django_db(transaction=True)
def test_worker_enqueues_and_runs_due_jobs(keep_signal_handlers, only_test_jobs):
    """``mamori worker --batch --schedule`` enqueues the built-in jobs that are due, then runs them."""
    from django.utils import timezone

    schedule._register_builtins()  # every built-in job has a time of day: none is due at first sight
    schedule.enqueue_due()  # first sight: every built-in job is scheduled for its next slot
    assert DBTaskResult.objects.count() == 0
    ScheduledRun.objects.filter(name="audit.daily_digests").update(next_run_at=timezone.now() - timedelta(minutes=1))
    call_command("worker", "--batch", "--no-startup-delay", "--interval", "0")  # --batch alone: no scheduling
    assert DBTaskResult.objects.count() == 0
    call_command("worker", "--batch", "--schedule", "--no-startup-delay", "--interval", "0")
    results = list(DBTaskResult.objects.all())
    assert [r.task_path for r in results] == ["mamori.audit.digests.seal_daily_digests"]
    assert results[0].status == "SUCCESSFUL"
    assert ScheduledRun.objects.get(name="audit.daily_digests").next_run_at > timezone.now()
    call_command("worker", "--batch", "--schedule", "--no-startup-delay", "--interval", "0", "--no-schedule")
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_thread_enqueues_due_jobs(only_test_jobs, tmp_path):
    schedule.register_periodic("probe", timedelta(hours=1), append_line, kwargs={"path": str(tmp_path / "x"),
                                                                                 "number": 1})
    thread = schedule.SchedulerThread(interval=0.1, first_delay=0)
    thread.start()
    deadline = clock.monotonic() + 30
    while _probe_runs() == 0 and clock.monotonic() < deadline:
        clock.sleep(0.1)
    clock.sleep(0.5)  # several more rounds: the job is not due again
    thread.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert _probe_runs() == 1


# --- several processes at once ----------------------------------------------------------------

RACE = """
import time
from datetime import datetime, timedelta, UTC
from mamori.core import schedule
from tests.operations.worker_probe import append_line
schedule._builtins_loaded = True
schedule._jobs.clear()  # only this job (apps register theirs in ready())
schedule.register_periodic("race", timedelta(hours=1), append_line, kwargs={{"path": "/dev/null", "number": 0}})
start = {start}
while time.time() < start:
    time.sleep(0.001)
now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
mine = 0
for slot in range(3):
    for _ in range(15):
        mine += schedule.enqueue_due(now + timedelta(hours=slot)).count("race")
print(mine)
"""


def _race(env) -> list[int]:
    start = clock.time() + 4.0
    procs = [subprocess.Popen(mamori_cmd("shell", "-v", "0", "-c", RACE.format(start=start)), env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    return [int(out.strip()) for out, _err in outputs]


def test_three_processes_on_sqlite_enqueue_each_slot_once(sqlite_data_dir):  # noqa: F811
    env = mamori_env(sqlite_data_dir)
    counts = _race(env)
    assert sum(counts) == 3, counts
    check = run_mamori("shell", "-v", "0", "-c", (
        "from django_tasks_db.models import DBTaskResult as T\n"
        f"print(T.objects.filter(task_path={PROBE_PATH!r}).count())"), env=env)
    assert check.stdout.strip() == "3", check.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_three_processes_on_postgres_enqueue_each_slot_once(tmp_path):
    env = mamori_env(tmp_path / "var", DATABASE_URL=postgres_url_for_current_test_db())
    counts = _race(env)
    assert sum(counts) == 3, counts
    assert _probe_runs() == 3
    assert ScheduledRun.objects.get(name="race").runs == 3
