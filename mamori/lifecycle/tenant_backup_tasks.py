"""Worker tasks for per-tenant backups started from the provider console."""

from __future__ import annotations

from django_tasks import task


def _actor(requested_by: str, staff_id: int | None = None):
    from mamori.audit.events import Actor
    from mamori.operations.models import ProviderStaff

    staff = ProviderStaff.objects.filter(pk=staff_id).first() if staff_id else None
    return Actor.for_staff(staff) if staff is not None else Actor.system(requested_by or "tenant backups")


@task()
def create_tenant_backup_task(*, tenant_id: int, requested_by: str = "", staff_id: int | None = None) -> str:
    from mamori.lifecycle.tenant_backup_jobs import take_backup
    from mamori.tenancy.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    return str(take_backup(tenant, actor=_actor(requested_by, staff_id)).uuid)


@task()
def restore_tenant_backup_task(*, backup_id: int, mode: str, new_slug: str = "", requested_by: str = "",
                               staff_id: int | None = None) -> str:
    from mamori.lifecycle.actions_tenant_backup import restore_tenant_backup
    from mamori.lifecycle.models import TenantBackup

    backup = TenantBackup.objects.filter(pk=backup_id).first()
    if backup is None:
        return "gone"
    target, result = restore_tenant_backup(actor=_actor(requested_by, staff_id), backup=backup, mode=mode,
                                           new_slug=new_slug, confirmed=mode == "in_place")
    return f"{target.slug}: {sum(result.restored.values())} rows, {result.files} files"
