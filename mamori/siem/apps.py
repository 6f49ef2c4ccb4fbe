from django.apps import AppConfig


class SiemConfig(AppConfig):
    name = "mamori.siem"
    label = "siem"
    verbose_name = "SIEM webhooks"

    def ready(self) -> None:
        from mamori.audit.chain import register_tenant_fact
        from mamori.siem import signals  # (queues deliveries when events are written)

        register_tenant_fact(signals.SUBSCRIBED_FACT, signals.subscribed_sql)
