"""Per-tenant backup actions: record a backup taken, restore one (in place or as a new tenant), prune.

Every action writes its audit events in its transaction: the provider log always, and the
tenant's own log (the customer sees when its data was backed up or restored, and by whom).
The heavy reading and writing is in ``mamori.lifecycle.tenant_backup``.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.core.actions import action
from mamori.lifecycle import tenant_backup as tb
from mamori.lifecycle.models import TenantBackup
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant

MODES = ("in_place", "as_new")


def _target(backup: TenantBackup) -> tuple[str, str, str]:
    return ("tenant_backup", str(backup.uuid), backup.taken_at.isoformat())


def _summary(backup: TenantBackup) -> dict:
    return {"backup": str(backup.uuid), "taken_at": backup.taken_at.isoformat(), "trigger": backup.trigger,
            "rows": backup.row_count, "tables": backup.table_count, "files": backup.file_count,
            "size": backup.size, "sha256": backup.sha256, "key_version": backup.key_version}


@action
def record_tenant_backup(*, actor: Actor, tenant: Tenant, result: tb.WriteResult,
                         trigger: str = TenantBackup.Trigger.MANUAL) -> TenantBackup:
    """Register a backup file written by ``tenant_backup.write_backup`` (provider row + both logs)."""
    backup = TenantBackup.objects.create(
        uuid=result.backup_uuid, tenant=tenant, status=TenantBackup.Status.COMPLETE, trigger=trigger,
        taken_at=timezone.now(), storage_name=result.storage_name, size=result.size, sha256=result.sha256,
        key_version=result.key_version, row_count=result.row_count, table_count=len(result.counts),
        file_count=result.file_count, counts=result.counts, schema=result.schema,
        duration_ms=result.duration_ms, requested_by=actor.label[:254])
    summary = _summary(backup)
    record_provider_event("tenant_backup.taken", actor=actor, target=_target(backup), tenant_ref=tenant.pk,
                          after={**summary, "tenant": tenant.slug})
    with tenant_context(tenant):
        record_event("tenant_backup.created", actor=actor, target=_target(backup), after=summary)
    return backup


@action
def record_tenant_backup_failure(*, actor: Actor, tenant: Tenant, error: str,
                                 trigger: str = TenantBackup.Trigger.MANUAL) -> TenantBackup:
    """Keep a trace of a backup that could not be written (the partial file is already removed)."""
    import uuid

    backup = TenantBackup.objects.create(uuid=uuid.uuid4(), tenant=tenant, status=TenantBackup.Status.FAILED,
                                         trigger=trigger, taken_at=timezone.now(), error=error[:500],
                                         requested_by=actor.label[:254])
    record_provider_event("tenant_backup.failed", actor=actor, target=_target(backup), tenant_ref=tenant.pk,
                          after={"tenant": tenant.slug, "error": error[:500]})
    return backup


def _refuse(exc: tb.TenantBackupError, field: str = "backup") -> ValidationError:
    return ValidationError({field: str(exc)})


@action
def restore_tenant_backup(*, actor: Actor, backup: TenantBackup, mode: str, new_slug: str = "",
                          new_name: str = "", confirmed: bool = False) -> tuple[Tenant, tb.RestoreResult]:
    """Restore one tenant's data from ``backup``; other tenants are not touched.

    ``mode="in_place"`` (needs ``confirmed``): the tenant's current rows and files are replaced
    by the backup's, with their original keys, in this one transaction. ``mode="as_new"``:
    a new tenant ``new_slug`` gets a copy (new keys, files re-encrypted with its own data key).
    The whole backup is authenticated and checked before anything is written; on any error
    nothing is kept (rows roll back, files written so far are removed).
    """
    if mode not in MODES:
        raise ValidationError({"mode": _("Choose in place or as a new tenant.")})
    if backup.status != TenantBackup.Status.COMPLETE:
        raise ValidationError({"backup": _("This backup is not available (status: %(status)s).")
                               % {"status": backup.get_status_display()}})
    if mode == "in_place" and not confirmed:
        raise ValidationError({"confirm": _("An in-place restore replaces the tenant's current data; "
                                            "confirm it.")})
    source = Tenant.objects.select_for_update().get(pk=backup.tenant_id)
    if source.status == Tenant.Status.PURGED:
        raise ValidationError({"backup": _("The tenant was purged; its backups are unreadable.")})
    as_new = mode == "as_new"
    target = None
    written_before: set[str] = set()
    try:
        with tenant_context(source):
            try:
                opened = tb.open_backup(backup.storage_name, tenant_id=source.pk, backup_uuid=backup.uuid)
                checked = tb.check_backup(opened, collect_tokens=as_new)
            except tb.TenantBackupError as exc:
                raise _refuse(exc) from None
        if as_new:
            target = Tenant(slug=(new_slug or "").strip().lower(), name=(new_name or source.name).strip(),
                            language=source.language, time_zone=source.time_zone, data_region=source.data_region,
                            contract_start=source.contract_start, contract_end=source.contract_end)
            target.full_clean()
            target.save()
        else:
            target = source
            written_before = tb.restore_prefix_snapshot(target.pk)
        with tenant_context(target):
            try:
                result = tb.restore_rows(opened, target, mode=mode, tokens=checked.tokens,
                                        file_owners=checked.file_owners)
            except tb.TenantBackupError as exc:
                raise _refuse(exc) from None
            details = {**_summary(backup), "mode": mode, "restored": result.restored, "removed": result.removed,
                       "files": result.files, "sessions_ended": result.sessions_ended,
                       "source_tenant": source.slug, "target_tenant": target.slug}
            if as_new:
                record_event("tenant.created", actor=actor, target=target,
                             after={"slug": target.slug, "name": target.name, "restored_from": source.slug})
            record_event("tenant_backup.restored", actor=actor, target=_target(backup), after=details)
        if as_new:
            with tenant_context(source):
                record_event("tenant_backup.copied", actor=actor, target=_target(backup),
                             after={**_summary(backup), "new_tenant": target.slug})
        record_provider_event("tenant_backup.restore_done", actor=actor, target=_target(backup),
                              tenant_ref=target.pk, after=details)
    except BaseException:
        if target is not None and target.pk is not None:
            tb.remove_new_files(target.pk, written_before)
        raise
    return target, result


@action
def prune_tenant_backups(*, actor: Actor, tenant: Tenant, keep_days: int | None = None, now=None) -> int:
    """Delete the tenant's backups older than ``keep_days`` (MAMORI_TENANT_BACKUP_KEEP_DAYS); the
    newest complete backup is always kept. Returns how many were deleted."""
    days = tb.keep_days() if keep_days is None else int(keep_days)
    if days < 1:
        raise ValidationError({"keep_days": _("Keep backups for at least one day.")})
    limit = (now or timezone.now()) - timedelta(days=days)
    complete = TenantBackup.objects.filter(tenant=tenant, status=TenantBackup.Status.COMPLETE)
    newest = complete.order_by("-taken_at", "-id").values_list("pk", flat=True).first()
    old = list(complete.filter(taken_at__lt=limit).exclude(pk=newest).order_by("taken_at"))
    old_failed = TenantBackup.objects.filter(tenant=tenant, status=TenantBackup.Status.FAILED, taken_at__lt=limit)
    for backup in old:
        if backup.storage_name:
            tb.delete_quietly(backup.storage_name)
    TenantBackup.objects.filter(pk__in=[b.pk for b in old]).update(status=TenantBackup.Status.DELETED,
                                                                    deleted_at=timezone.now())
    failed = old_failed.update(status=TenantBackup.Status.DELETED, deleted_at=timezone.now())
    if old or failed:
        record_provider_event("tenant_backup.pruned", actor=actor, target=("tenant", tenant.pk, tenant.slug),
                              tenant_ref=tenant.pk, after={"deleted": [str(b.uuid) for b in old],
                                                           "failed_records": failed, "keep_days": days})
    return len(old)
