"""Support access to a tenant only with the tenant admin's consent, time-boxed and audited (15.1.2, 9.4.4)."""

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "mamori.support"
    label = "support"
    default_auto_field = "django.db.models.BigAutoField"
