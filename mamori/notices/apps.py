"""Maintenance, change and vulnerability notices to tenants; release notes (12.1.2, 12.6.1)."""

from datetime import timedelta

from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "mamori.notices"
    label = "notices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from mamori.core.schedule import register_periodic
        from mamori.notices.tasks import notice_reminders_task

        # The reminder mail 24 h before a maintenance window (checked every 15 minutes).
        register_periodic("notices.reminders", timedelta(minutes=15), notice_reminders_task)

        from mamori.lifecycle.walk import ProviderScrub, register_provider_scrub
        from mamori.notices.scrub import scrub_notice_deliveries

        register_provider_scrub(ProviderScrub("notices.NoticeDelivery", scrub_notice_deliveries))
