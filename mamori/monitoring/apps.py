"""Probes, the public status page with measured uptime, readiness, metrics and the clock check (12.1.3, 12.4.4)."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "mamori.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
