"""Periodic jobs of mamori.monitoring (registered in ``MonitoringConfig.ready``, run by
``mamori worker``): probes every minute, clock check every 10 minutes, tenant usage every
15 minutes, the probe roll-up daily."""

from __future__ import annotations

from django_tasks import task


@task()
def run_probes_task() -> dict:
    """One probe per component; returns {component: ok}."""
    from mamori.monitoring.probes import run_probes

    return {result.component: result.ok for result in run_probes()}


@task()
def clock_check_task() -> str:
    """Measure the clock offset against ``MAMORI_NTP_SERVERS``; returns the state."""
    from mamori.monitoring.clock import measure_clock

    return measure_clock().state


@task()
def tenant_usage_task() -> int:
    from mamori.monitoring.usage import measure_tenant_usage

    return measure_tenant_usage()


@task()
def roll_up_probes_task() -> int:
    from mamori.monitoring.actions import roll_up_probe_results

    return roll_up_probe_results()["rows"]
