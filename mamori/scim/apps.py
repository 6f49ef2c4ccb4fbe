from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "mamori.scim"
    label = "scim"
    verbose_name = "SCIM 2.0 provisioning"
