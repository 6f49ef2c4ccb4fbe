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


@task()
def generate_tenant_export(*, export_id: int, tenant_id: int) -> int:
    """Build one full tenant export (mamori.lifecycle.export); returns the rows exported."""
    from mamori.lifecycle.export import build_export
    from mamori.lifecycle.models import TenantExport

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    build_export(export_id, tenant)
    return TenantExport.objects_across_tenants.filter(pk=export_id).values_list("rows_done", flat=True).first() or 0


@task()
def delete_expired_tenant_exports_task() -> int:
    """The daily cleanup of expired export ZIPs over every tenant (register with the scheduler)."""
    from mamori.lifecycle.actions_export import delete_expired_tenant_exports_everywhere

    return delete_expired_tenant_exports_everywhere()
