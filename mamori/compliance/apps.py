"""Automated control checks and the whitepaper generated from the live configuration (14.1.1)."""

from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "mamori.compliance"
    label = "compliance"
    default_auto_field = "django.db.models.BigAutoField"
