"""Support access to a tenant only with the tenant admin's consent, time-boxed and audited (15.1.2, 9.4.4)."""

from datetime import timedelta

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "mamori.support"
    label = "support"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from mamori.core.schedule import register_periodic
        from mamori.support.tasks import expire_support_access_task

        # Closes grants past their end (access itself stops at the end by the per-request check).
        register_periodic("support.expire", timedelta(minutes=5), expire_support_access_task)
