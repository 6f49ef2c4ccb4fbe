from django.apps import AppConfig


class SiemConfig(AppConfig):
    name = "mamori.siem"
    label = "siem"
    verbose_name = "SIEM webhooks"

    def ready(self) -> None:
        from mamori.siem import signals  # noqa: F401  (queues deliveries when events are written)
