"""Multi-factor authentication policy."""
from django.apps import AppConfig


class MultifactorConfig(AppConfig):
    name = "mamori.multifactor"
    label = "multifactor"
    verbose_name = "Multi-factor authentication policy"

    def ready(self):
        from mamori.multifactor import signals  # noqa: F401 — connects the audit receivers
