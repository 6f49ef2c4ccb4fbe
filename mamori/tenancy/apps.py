from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "mamori.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from mamori.tenancy import checks, signals  # noqa: F401
