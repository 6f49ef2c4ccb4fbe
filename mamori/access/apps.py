from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "mamori.access"
    label = "access"
    verbose_name = "Access control"
