"""Probes, the public status page with measured uptime, readiness, metrics and the clock check (12.1.3, 12.4.4)."""

from datetime import time, timedelta

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "mamori.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mamori.core.schedule import register_periodic
        from mamori.monitoring import tasks

        register_periodic("monitoring.probes", timedelta(minutes=1), tasks.run_probes_task)
        register_periodic("monitoring.clock", timedelta(minutes=10), tasks.clock_check_task)
        register_periodic("monitoring.tenant_usage", timedelta(minutes=15), tasks.tenant_usage_task)
        register_periodic("monitoring.probe_rollup", timedelta(days=1), tasks.roll_up_probes_task, at=time(0, 40))
