"""The schedule table (MAMORI_SCHEDULES / MAMORI_SCHEDULES_FILE), run results, run now, the
Schedules page and the 12.1.2-schedules control."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from mamori.audit.models import ProviderEvent
from mamori.compliance.checks.operations import job_states, schedules_ran
from mamori.core import schedule
from mamori.operations.checks import check_schedule_table
from mamori.operations.models import ScheduledRun
from tests.cli.support import mamori_env, run_mamori
from tests.operations.worker_probe import append_line

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@task()
def failing_job() -> None:
    raise RuntimeError("disk full on /var/backups")


@pytest.fixture
def only_test_jobs(monkeypatch):
    monkeypatch.setattr(schedule, "_jobs", {})
    monkeypatch.setattr(schedule, "_builtins_loaded", True)


def test_every_and_table_are_parsed_strictly():
    assert schedule.parse_every("10m") == timedelta(minutes=10)
    assert schedule.parse_every(" 1H ") == timedelta(hours=1)
    assert schedule.parse_every("7d") == timedelta(days=7)
    for bad in ("", "0m", "10", "1w", "-1h", "1.5h", None):
        with pytest.raises(ValueError):
            schedule.parse_every(bad)
    assert schedule.format_every(timedelta(days=7)) == "7d" and schedule.format_every(timedelta(minutes=90)) == "90m"
    overrides, errors = schedule.parse_table({
        "a": {"every": "1h", "at": "03:15", "enabled": False},
        "b": {"at": ""},
        "c": {"every": "fortnightly"},
        "d": {"enabled": "no"},
        "e": {"when": "1h"},
        "f": "1h",
    })
    assert overrides["a"] == schedule.Override(timedelta(hours=1), time(3, 15), True, False)
    assert overrides["b"] == schedule.Override(None, None, True, True)
    assert set(overrides) == {"a", "b"}
    assert [e.split(":")[0] for e in errors] == ["c", "d", "e", "f"]


def test_the_table_overrides_registered_defaults(only_test_jobs, settings, tmp_path):
    schedule.register_periodic("probe.daily", timedelta(days=1), append_line, at=time(3, 0))
    schedule.register_periodic("probe.hourly", timedelta(hours=1), append_line)
    settings.MAMORI_SCHEDULES = {"probe.daily": {"every": "12h", "at": "04:30"},
                                 "probe.hourly": {"enabled": False}}
    jobs = schedule.registered_jobs()
    daily, hourly = jobs["probe.daily"], jobs["probe.hourly"]
    assert (daily.every, daily.at, daily.enabled, daily.overridden) == (timedelta(hours=12), time(4, 30), True, True)
    assert (daily.default_every, daily.default_at) == (timedelta(days=1), time(3, 0))
    assert (hourly.every, hourly.enabled) == (timedelta(hours=1), False)
    settings.MAMORI_SCHEDULES = {"probe.daily": {"every": "soon"}}  # malformed: ignored at run time
    assert schedule.registered_jobs()["probe.daily"].every == timedelta(days=1)


def test_disabled_jobs_are_not_enqueued_and_a_changed_time_moves_the_next_run(db, only_test_jobs, settings, tmp_path):
    kwargs = {"path": str(tmp_path / "x"), "number": 1}
    schedule.register_periodic("probe", timedelta(days=1), append_line, at=time(3, 0), kwargs=kwargs)
    assert schedule.enqueue_due(NOW) == []
    assert ScheduledRun.objects.get(name="probe").next_run_at == datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    settings.MAMORI_SCHEDULES = {"probe": {"at": "12:30"}}
    assert schedule.enqueue_due(NOW) == []  # moved to today 12:30, not yet due
    assert ScheduledRun.objects.get(name="probe").next_run_at == datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    assert schedule.enqueue_due(NOW + timedelta(minutes=30)) == ["probe"]
    settings.MAMORI_SCHEDULES = {"probe": {"at": "12:30", "enabled": False}}
    assert schedule.enqueue_due(NOW + timedelta(days=3)) == []
    settings.MAMORI_SCHEDULES = {}
    # Back to the default time: the next slot at 03:00 after now; missed days run once.
    assert schedule.enqueue_due(NOW + timedelta(days=3)) == []
    row = ScheduledRun.objects.get(name="probe")
    assert row.next_run_at == datetime(2026, 3, 14, 3, 0, tzinfo=UTC) and row.runs == 1


def test_system_check_reports_unknown_names_and_bad_entries(only_test_jobs, settings):
    schedule.register_periodic("probe", timedelta(hours=1), append_line)
    settings.MAMORI_SCHEDULES = {"probe": {"every": "2h"}, "typo.job": {"enabled": False},
                                 "probe2": {"every": "often"}}
    messages = {(m.id, m.msg.split(":")[0] if m.id == "mamori.E301" else m.msg) for m in check_schedule_table()}
    ids = sorted(m[0] for m in messages)
    assert ids == ["mamori.E301", "mamori.W301", "mamori.W301"]  # probe2 is malformed and unknown
    assert any("'typo.job'" in m[1] for m in messages)
    settings.MAMORI_SCHEDULES = {"probe": {"every": "2h"}}
    assert check_schedule_table() == []


@pytest.mark.django_db(transaction=True)  # the worker closes connections (as in production)
def test_results_are_recorded_for_success_and_failure(only_test_jobs, settings, tmp_path):
    schedule.register_periodic("probe", timedelta(hours=1), append_line,
                               kwargs={"path": str(tmp_path / "x"), "number": 1})
    schedule.register_periodic("broken", timedelta(hours=1), failing_job)
    assert sorted(schedule.enqueue_due(NOW)) == ["broken", "probe"]
    assert ScheduledRun.objects.get(name="probe").last_started_at is None  # queued, not run yet
    call_command("worker", "--batch", "--no-startup-delay", "--interval", "0")
    probe, broken = ScheduledRun.objects.get(name="probe"), ScheduledRun.objects.get(name="broken")
    assert probe.last_ok is True and probe.last_error == "" and probe.last_duration_ms is not None
    assert probe.last_started_at <= probe.last_finished_at and probe.last_trigger == "schedule"
    assert broken.last_ok is False and broken.last_error == "RuntimeError: disk full on /var/backups"
    # The immediate backend runs inside enqueue(): the result is recorded as well.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert schedule.enqueue_due(NOW + timedelta(hours=1)) == ["broken", "probe"]
    broken = ScheduledRun.objects.get(name="broken")
    assert broken.last_ok is False and broken.runs == 2 and broken.last_run_at == NOW + timedelta(hours=1)


def test_run_now_is_audited_and_keeps_the_next_run(db, only_test_jobs, tmp_path):
    from mamori.audit.events import Actor
    from mamori.operations.actions_schedules import run_job_now

    schedule.register_periodic("probe", timedelta(days=1), append_line, at=time(3, 0),
                               kwargs={"path": str(tmp_path / "x"), "number": 1})
    schedule.enqueue_due(NOW)
    before = ScheduledRun.objects.get(name="probe").next_run_at
    row = run_job_now(actor=Actor.system("test"), name="probe")
    assert row.next_run_at == before and row.last_trigger == "manual" and row.runs == 1
    assert DBTaskResult.objects.filter(id=row.last_task_id).exists()
    event = ProviderEvent.objects.get(action="schedule.run_now")
    assert event.target_id == str(row.pk) and event.after == {"task_id": row.last_task_id}
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        run_job_now(actor=Actor.system("test"), name="no.such.job")


@pytest.mark.django_db(transaction=True)
def test_schedules_page_lists_jobs_and_operators_run_them_now(staff_login, settings):
    settings.MAMORI_SCHEDULES = {"backup.drill": {"enabled": False}, "audit.retention_purge": {"at": "01:00"}}
    client = staff_login("operator")
    html = client.get("/provider/schedules/").content.decode()
    for name in schedule.registered_jobs():
        assert f'<td class="mono">{name}</td>' in html
    drill = html.split('id="job-backupdrill"')[1].split("</tr>")[0]
    assert "Disabled" in drill and "schedule table (default 7d@18:00)" in drill
    purge = html.split('id="job-auditretention_purge"')[1].split("</tr>")[0]
    assert '<td class="mono">01:00</td>' in purge and "Never run" in purge
    response = client.post("/provider/schedules/audit.daily_digests/run/")
    assert response.status_code == 302 and response["Location"] == "/provider/schedules/"
    event = ProviderEvent.objects.get(action="schedule.run_now")
    assert event.actor_type == "provider_staff" and event.actor_label == client.staff.email
    call_command("worker", "--batch", "--no-startup-delay", "--interval", "0")
    html = client.get("/provider/schedules/").content.decode()
    digests = html.split('id="job-auditdaily_digests"')[1].split("</tr>")[0]
    assert "Succeeded" in digests and "(run by hand)" in digests
    assert client.post("/provider/schedules/no.such.job/run/").status_code == 302
    assert ProviderEvent.objects.filter(action="schedule.run_now").count() == 1
    officer = staff_login("security_officer")
    assert officer.get("/provider/schedules/").status_code == 200
    assert "Run now" not in officer.get("/provider/schedules/").content.decode()


def test_schedules_control_per_job_evidence(db, only_test_jobs, settings, tmp_path):
    kwargs = {"path": str(tmp_path / "x"), "number": 1}
    schedule.register_periodic("probe.ok", timedelta(hours=1), append_line, kwargs=kwargs)
    schedule.register_periodic("probe.late", timedelta(hours=1), append_line, kwargs=kwargs)
    schedule.register_periodic("probe.off", timedelta(hours=1), append_line, kwargs=kwargs)
    now = timezone.now()
    # Daily slot twelve hours ahead (UTC), so that probe.new is never due during this test,
    # whatever the time of day the suite runs at.
    later = (now + timedelta(hours=12)).astimezone(UTC)
    schedule.register_periodic("probe.new", timedelta(days=1), append_line, at=time(later.hour, later.minute),
                               kwargs=kwargs)
    settings.MAMORI_SCHEDULES = {"probe.off": {"enabled": False}}
    schedule.enqueue_due(now - timedelta(hours=5))  # probe.ok and probe.late ran 5 h ago (> 2 × 1 h)
    schedule.enqueue_due(now - timedelta(minutes=30))
    ScheduledRun.objects.filter(name="probe.ok").update(last_run_at=now - timedelta(minutes=30))
    ScheduledRun.objects.filter(name="probe.late").update(last_run_at=now - timedelta(hours=5),
                                                          next_run_at=now - timedelta(hours=4))
    states = {j["job"]: j["state"] for j in job_states(now)}
    assert states == {"probe.ok": "ok", "probe.late": "late", "probe.off": "disabled", "probe.new": "pending"}
    result = schedules_ran()
    assert result.status == "fail" and "probe.late" in result.summary
    assert result.evidence["counts"] == {"ok": 1, "pending": 1, "disabled": 1, "late": 1, "failed": 0}
    ScheduledRun.objects.filter(name="probe.late").update(last_run_at=now - timedelta(minutes=10))
    assert schedules_ran().status == "pass"
    ScheduledRun.objects.filter(name="probe.ok").update(last_task_id="x", last_finished_at=now, last_ok=False,
                                                        last_error="boom")
    failed = schedules_ran()
    assert failed.status == "fail" and failed.evidence["counts"]["failed"] == 1
    settings.SCHEDULE_ENABLED = False
    assert schedules_ran().status == "not_applicable"


def test_schedules_file_is_read_from_the_environment(sqlite_data_dir, tmp_path):  # noqa: F811
    table = tmp_path / "schedules.toml"
    table.write_text('["backup.create"]\nevery = "12h"\nat = "16:00"\n\n["backup.drill"]\nenabled = false\n'
                     '\n["no.such.job"]\nenabled = false\n')
    env = mamori_env(sqlite_data_dir, MAMORI_SCHEDULES_FILE=str(table))
    listing = run_mamori("schedule", "list", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert (rows["backup.create"]["every"], rows["backup.create"]["at"], rows["backup.create"]["default"]) == \
        ("12h", "16:00", "1d@17:00")
    assert rows["backup.drill"]["enabled"] is False and rows["backup.drill"]["next_run_at"] is None
    check = run_mamori("check", env=env)
    assert "mamori.W301" in check.stderr + check.stdout and "no.such.job" in check.stderr + check.stdout
