"""Keep the application role's grants current after every migrate."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def grant_app_role(sender, using="default", **kwargs):
    from django.db import connections

    from mamori.tenancy.rls import ensure_app_role

    if sender.name != "mamori.tenancy":
        return
    ensure_app_role(connections[using])
