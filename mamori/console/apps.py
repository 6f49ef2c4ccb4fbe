from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "mamori.console"
    label = "console"
    verbose_name = "Tenant console"
