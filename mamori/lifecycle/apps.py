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
