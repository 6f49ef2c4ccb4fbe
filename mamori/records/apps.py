from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "mamori.records"
    label = "records"
    verbose_name = "Workspaces and records"
