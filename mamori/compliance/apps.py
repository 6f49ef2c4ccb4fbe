"""Automated control checks and the whitepaper generated from the live configuration (14.1.1)."""

from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "mamori.compliance"
    label = "compliance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The daily control-check run (mamori.core.schedule).
        from mamori.compliance.tasks import register_jobs

        register_jobs()
