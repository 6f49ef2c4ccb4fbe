from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "mamori.operations"
    label = "operations"
    verbose_name = "Provider operations"
