"""The daily control-check run (``mamori worker``, scheduled in ``ComplianceConfig.ready``)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django_tasks import task

JOB_NAME = "compliance.controls_check"


@task()
def run_controls_task() -> str:
    from mamori.audit.events import Actor
    from mamori.compliance.runner import run_checks

    run = run_checks(trigger="worker", actor=Actor.system("daily control checks"))
    return ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)


def register_jobs() -> None:
    """Register the daily run (``MAMORI_CONTROL_CHECK_AT``, UTC) with the scheduler, if present."""
    try:
        from mamori.core import schedule
    except ImportError:  # no scheduler in this build: run `mamori controls check` from cron
        return
    at = schedule.parse_time(getattr(settings, "MAMORI_CONTROL_CHECK_AT", "04:30"), "MAMORI_CONTROL_CHECK_AT")
    schedule.register_periodic(JOB_NAME, timedelta(days=1), run_controls_task, at=at)
