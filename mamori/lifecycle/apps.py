"""Data keys and data lifecycle."""
from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "mamori.lifecycle"
    label = "lifecycle"
    verbose_name = "Data keys and data lifecycle"

    def ready(self):
        # Deploy check: production needs a configured master key (mamori.E120).
        from mamori.lifecycle import checks  # noqa: F401

        # A configured but malformed master key stops start-up with a message naming the variable.
        from mamori.lifecycle.keys import validate_configured_key

        validate_configured_key()

        # Termination: hourly reminders and due purges (mamori.core.schedule, when present).
        from mamori.lifecycle.termination import register_jobs

        register_jobs()

        # Per-tenant backups: the daily backup of every active tenant (mamori.core.schedule, when present).
        from mamori.lifecycle.tenant_backup_jobs import register_jobs as register_tenant_backup_jobs

        register_tenant_backup_jobs()

        # Full tenant export: the daily deletion of expired export ZIPs (mamori.core.schedule, when present).
        from mamori.lifecycle.export_jobs import register_jobs as register_export_jobs

        register_export_jobs()
