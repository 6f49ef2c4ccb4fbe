"""Incidents with per-tenant notification deadlines; public security event reports (16.1.1, 16.1.2)."""

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "mamori.incidents"
    label = "incidents"
    default_auto_field = "django.db.models.BigAutoField"
