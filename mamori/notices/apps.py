"""Maintenance, change and vulnerability notices to tenants; release notes (12.1.2, 12.6.1)."""

from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "mamori.notices"
    label = "notices"
    default_auto_field = "django.db.models.BigAutoField"
