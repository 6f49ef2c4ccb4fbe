from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "mamori.api"
    label = "mamori_api"
    verbose_name = "API"
