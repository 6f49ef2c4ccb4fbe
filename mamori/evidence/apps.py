from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "mamori.evidence"
    label = "evidence"
    verbose_name = "Evidence"
