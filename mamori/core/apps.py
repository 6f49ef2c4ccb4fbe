from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mamori.core"
    label = "mamori_core"
    verbose_name = "Mamori core"

    def ready(self) -> None:
        from mamori.core import checks  # noqa: F401  (registers system checks)
