"""Background tenant key rotation (``mamori keys rotate-tenant SLUG --background``).

The task runs the whole resumable rotation; if the worker dies, the next run of the
task or of the command continues where it stopped.
"""

from __future__ import annotations

from django_tasks import task

from mamori.audit.events import Actor
from mamori.lifecycle.rotation import rotate_tenant
from mamori.tenancy.models import Tenant


@task()
def rotate_tenant_key_task(*, tenant_id: int, requested_by: str = "") -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    active = rotate_tenant(tenant, actor=Actor.system(requested_by or "keys"))
    return f"v{active.version}"
