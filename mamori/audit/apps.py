from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mamori.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self):
        # A configured but unusable signing key stops start-up with a clear message.
        from mamori.audit.signing import validate_configured_key

        validate_configured_key()
