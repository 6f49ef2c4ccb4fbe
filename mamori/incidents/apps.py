"""Incidents with per-tenant notification deadlines; public security event reports (16.1.1, 16.1.2)."""

from datetime import timedelta

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "mamori.incidents"
    label = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mamori.core.schedule import register_periodic
        from mamori.incidents import checks  # noqa: F401  (registers the system checks)
        from mamori.incidents.tasks import check_deadlines_task

        register_periodic("incidents.deadlines", timedelta(minutes=5), check_deadlines_task)

        from mamori.incidents.scrub import scrub_incident_deliveries
        from mamori.lifecycle.walk import ProviderScrub, register_provider_scrub

        register_provider_scrub(ProviderScrub("incidents.Delivery", scrub_incident_deliveries))
