"""The runner: every check runs, errors and time-outs are reported as "error" (never pass), each
result is timed and stored with its run, and the run is recorded in the provider log."""

from __future__ import annotations

import time

import pytest

from mamori.audit.models import ProviderEvent
from mamori.compliance import queries, runner
from mamori.compliance.models import ControlResult, ControlRun
from mamori.compliance.registry import CheckResult
from tests.compliance.helpers import temporary_control

pytestmark = pytest.mark.django_db


def _raises():
    raise RuntimeError("probe exploded")


def _passes():
    return CheckResult.passed("fine", value=3)


def test_a_raising_check_is_an_error_with_type_and_message_and_the_others_still_run():
    with temporary_control("T.1", _raises, key="T.1-raise"), temporary_control("T.2", _passes, key="T.2-pass"):
        run = runner.run_checks(keys=["T.1-raise", "T.2-pass"])
    results = {r.key: r for r in run.results.all()}
    assert results["T.1-raise"].status == "error"
    assert results["T.1-raise"].error == "RuntimeError: probe exploded"
    assert results["T.1-raise"].summary == "RuntimeError: probe exploded"
    assert results["T.2-pass"].status == "pass" and results["T.2-pass"].evidence == {"value": 3}
    assert run.counts["error"] == 1 and run.counts["pass"] == 1 and run.counts["total"] == 2
    assert not run.ok


def test_a_slow_check_is_stopped_and_reported_without_blocking_the_next(settings):
    settings.MAMORI_CONTROL_CHECK_TIMEOUT_SECONDS = 1

    def slow():
        time.sleep(30)
        return CheckResult.passed("never")

    started = time.monotonic()
    with temporary_control("T.3", slow, key="T.3-slow"), temporary_control("T.2", _passes, key="T.2-pass"):
        run = runner.run_checks(keys=["T.3-slow", "T.2-pass"])
    assert time.monotonic() - started < 10
    slow_result = run.results.get(key="T.3-slow")
    assert slow_result.status == "error" and "CheckTimeout" in slow_result.error
    assert 900 <= slow_result.duration_ms < 5000
    assert run.results.get(key="T.2-pass").status == "pass"


def test_a_check_returning_something_else_is_an_error():
    with temporary_control("T.4", lambda: True, key="T.4-bool"):
        run = runner.run_checks(keys=["T.4-bool"])
    result = run.results.get()
    assert result.status == "error" and "TypeError" in result.error


def test_evidence_that_is_not_json_is_an_error():
    with temporary_control("T.5", lambda: CheckResult.passed("x", thing=object()), key="T.5-obj"):
        result = runner.run_checks(keys=["T.5-obj"]).results.get()
    # default=str makes any object a string: stored, not lost
    assert result.status == "pass" and result.evidence["thing"].startswith("<object")


def test_a_check_cannot_write(tenant):
    from mamori.tenancy.models import Tenant

    def writes():
        Tenant.objects.filter(pk=tenant.pk).update(name="changed by a check")
        return CheckResult.passed("wrote")

    with temporary_control("T.6", writes, key="T.6-write"):
        runner.run_checks(keys=["T.6-write"])
    tenant.refresh_from_db()
    assert tenant.name != "changed by a check"


def test_organisational_controls_stay_organisational():
    with temporary_control("T.7", _passes, key="T.7-org", organisational=True):
        result = runner.run_checks(keys=["T.7-org"]).results.get()
    assert result.status == "organisational"


def test_run_is_stored_and_recorded_in_the_provider_log():
    with temporary_control("T.2", _passes, key="T.2-pass"):
        run = runner.run_checks(keys=["T.2-pass"], trigger="console")
    assert ControlRun.objects.get() == run and run.trigger == "console" and run.finished_at >= run.started_at
    event = ProviderEvent.objects.filter(action="controls.checked").get()
    assert event.after["ok"] == 1 and event.after["total"] == 1 and event.after["failing"] == [] and event.after["trigger"] == "console"


def test_unknown_key_or_clause_and_bad_trigger_are_refused():
    with pytest.raises(KeyError):
        runner.run_checks(keys=["no-such-control"])
    with pytest.raises(KeyError):
        runner.run_checks(clause="99.9.9")
    with pytest.raises(ValueError):
        runner.run_checks(keys=["6.1.1"], trigger="cron")


def test_clause_selects_every_control_of_the_clause():
    keys = [c.key for c in runner.select(clause="9.2.4")]
    assert keys == ["9.2.4", "9.2.4-policy"]


def test_latest_results_and_history():
    state = {"status": "pass"}

    def flips():
        return CheckResult(state["status"], "flip")

    with temporary_control("T.8", flips, key="T.8-flip"), temporary_control("T.2", _passes, key="T.2-pass"):
        first = runner.run_checks(keys=["T.8-flip", "T.2-pass"])
        state["status"] = "fail"
        second = runner.run_checks(keys=["T.8-flip"])
    latest = queries.latest_results()
    assert latest["T.8-flip"].status == "fail" and latest["T.8-flip"].run == second
    assert latest["T.2-pass"].run == first
    assert [r.status for r in queries.history("T.8-flip")] == ["fail", "pass"]
    newest = ControlResult.objects.filter(run=second).get()
    assert list(queries.history(since=newest.checked_at)) == [newest]
    assert queries.history("T.8-flip", until=newest.checked_at).count() == 1


def test_every_spec_clause_has_a_control():
    """Every row of the control catalogue has a check or an organisational entry."""
    keys = {c.clause for c in runner.select()}
    expected = {"5.1.1", "6.1.1", "CLD.6.3.1", "6.1.3", "7.2.2", "8.1.1", "CLD.8.1.5", "8.2.2", "9.2.1", "9.2.2",
                "9.2.3", "9.2.4", "9.4.1", "CLD.9.5.1", "CLD.9.5.2", "10.1.1", "11.2.7", "CLD.12.1.5", "12.3.1",
                "12.4.1", "12.4.3", "CLD.12.4.5", "13.1.3", "14.1.1", "14.2.1", "15.1.3", "16.1.7", "18.1.1",
                "18.1.2", "18.1.3", "18.1.5", "18.2.1"}
    assert expected <= keys


def test_summaries_are_stored_in_japanese_and_english_and_follow_the_active_language(settings):
    from django.utils import translation

    run = runner.run_checks(keys=["6.1.1"])
    result = run.results.get()
    assert "grace period 30 days" in result.summaries["en"]
    assert "猶予期間は 30 日" in result.summaries["ja"]
    with translation.override("en"):
        assert result.summary == result.summaries["en"]
    with translation.override("ja"):
        assert result.summary == result.summaries["ja"]
    assert result.summary_text == result.summaries[settings.LANGUAGE_CODE[:2]]


def test_expensive_readings_are_made_once_for_both_languages(monkeypatch):
    from mamori.compliance.checks import isolation

    calls = []
    real = isolation.deploy_messages
    monkeypatch.setattr(isolation, "deploy_messages", lambda: calls.append(1) or real())
    result = runner.run_checks(keys=["CLD.9.5.2"]).results.get()
    assert set(result.summaries) == {"ja", "en"} and len(calls) == 1


def test_daily_job_is_registered_and_runs_every_check_as_the_worker():
    from datetime import time as clock_time
    from datetime import timedelta

    from mamori.compliance.tasks import JOB_NAME, run_controls_task
    from mamori.core.schedule import registered_jobs

    job = registered_jobs()[JOB_NAME]
    assert job.every == timedelta(days=1) and job.at == clock_time(4, 30)
    summary = run_controls_task.call()
    run = ControlRun.objects.get()
    assert run.trigger == "worker" and run.triggered_by == "daily control checks"
    assert run.counts["total"] == len(runner.select()) and "pass" in summary
