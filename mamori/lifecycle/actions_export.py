"""State changes of the full tenant export (mamori.lifecycle.export).

Each action runs in one transaction and writes its audit event in it. A tenant admin
starts an export from the console or the API; the provider from the CLI (``mamori tenant
export``), which is recorded in the tenant's log and in the provider log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, Role, can
from mamori.audit.events import Actor, ActorType, record_event, record_provider_event
from mamori.core.actions import action
from mamori.lifecycle.models import TenantExport
from mamori.tenancy.context import require_tenant, tenant_context

EXPORT_PERMISSION = Perm.MANAGE_SECURITY
INTERRUPTED = "interrupted: the export stopped progressing (worker stopped)"


def is_export_admin(user) -> bool:
    """A full export holds everything of the tenant: tenant admins only."""
    return (user is not None and getattr(user, "role", None) == Role.TENANT_ADMIN
            and can(user, EXPORT_PERMISSION))


def _require_allowed(actor: Actor, *, provider: bool) -> None:
    if provider:
        if actor.type != ActorType.SYSTEM or actor.user is not None:
            raise PermissionDenied(EXPORT_PERMISSION, actor=actor)
        return
    if actor.user is None or not is_export_admin(actor.user):
        raise PermissionDenied(EXPORT_PERMISSION, actor=actor)


def _target(export: TenantExport) -> tuple[str, int, str]:
    return ("lifecycle.tenantexport", export.pk, f"tenant export {export.pk}")


def _fail_stale(now: datetime) -> None:
    """An export whose worker died stays "running"; after TENANT_EXPORT_STALE_HOURS without
    finishing it is marked failed so it no longer blocks a new one."""
    limit = now - timedelta(hours=settings.TENANT_EXPORT_STALE_HOURS)
    stale = TenantExport.objects.select_for_update().filter(
        status__in=[TenantExport.Status.PENDING, TenantExport.Status.RUNNING], created_at__lt=limit)
    for export in stale:
        if export.started_at is not None and export.started_at >= limit:
            continue
        export.status = TenantExport.Status.FAILED
        export.error = INTERRUPTED
        export.completed_at = now
        export.save(update_fields=["status", "error", "completed_at"])
        record_event("tenant_export.failed", actor=Actor.system("tenant export"), target=export,
                     after={"error": export.error, "rows_done": export.rows_done})


@action
def request_tenant_export(*, actor: Actor, provider: bool = False, enqueue: bool = True) -> TenantExport:
    """Queue a full export of the active tenant; a worker builds it (``enqueue=False``: the
    caller builds it, as the CLI does). Refused while another export of the tenant runs."""
    from mamori.lifecycle import walk

    tenant = require_tenant()
    _require_allowed(actor, provider=provider)
    now = timezone.now()
    _fail_stale(now)
    running = TenantExport.objects.filter(
        status__in=[TenantExport.Status.PENDING, TenantExport.Status.RUNNING]).first()
    if running is not None:
        when = timezone.localtime(running.created_at).strftime("%Y-%m-%d %H:%M")
        raise ValidationError({"__all__": _(
            "An export of this tenant is already running (requested %(when)s). Wait until it has finished, "
            "then start a new one.") % {"when": when}})
    try:
        with transaction.atomic():
            export = TenantExport.objects.create(
                created_by=actor.user, requested_by_label=actor.label[:200], expires_at=now + timedelta(
                    days=settings.TENANT_EXPORT_EXPIRY_DAYS))
    except IntegrityError:  # another request won the race (partial unique constraint)
        raise ValidationError({"__all__": _(
            "An export of this tenant is already running. Wait until it has finished, then start a new one.")}
        ) from None
    tables = len(walk.exportable_tables())
    record_event("tenant_export.requested", actor=actor, target=export,
                 after={"tables": tables, "by_provider": provider})
    if provider:
        record_provider_event("tenant_export.requested_by_provider", actor=actor, target=_target(export),
                              tenant_ref=tenant.pk, after={"tenant": tenant.slug, "tables": tables})
    if enqueue:
        from mamori.lifecycle.tasks import generate_tenant_export

        export_id, tenant_id = export.pk, tenant.pk
        transaction.on_commit(lambda: generate_tenant_export.enqueue(export_id=export_id, tenant_id=tenant_id))
    return export


@action
def finish_tenant_export(*, export_id: int, ok: bool, error: str = "", **fields) -> TenantExport:
    """Mark a built export ready (or failed) and write its event (system actor)."""
    export = TenantExport.objects.select_for_update().get(pk=export_id)
    for name, value in fields.items():
        setattr(export, name, value)
    export.status = TenantExport.Status.COMPLETED if ok else TenantExport.Status.FAILED
    export.progress = 100 if ok else export.progress
    export.error = error[:500]
    export.completed_at = timezone.now()
    if ok:
        export.expires_at = export.completed_at + timedelta(days=settings.TENANT_EXPORT_EXPIRY_DAYS)
    export.save()
    after = {"rows": export.rows_done, "tables": export.table_count, "files": export.file_count,
             "sha256": export.sha256, "size": export.file_size, "error": export.error}
    if export.unreadable_files:
        after["unreadable_files"] = export.unreadable_files
    record_event("tenant_export.completed" if ok else "tenant_export.failed",
                 actor=Actor.system("tenant export"), target=export, after=after)
    return export


@action
def record_export_download(*, actor: Actor, export: TenantExport, provider: bool = False) -> None:
    """Every download of an export is in the tenant's log (and the provider log for the CLI)."""
    _require_allowed(actor, provider=provider)
    after = {"sha256": export.sha256, "size": export.file_size}
    record_event("tenant_export.downloaded", actor=actor, target=export, after=after)
    if provider:
        record_provider_event("tenant_export.downloaded_by_provider", actor=actor, target=_target(export),
                              tenant_ref=export.tenant_id, after=after)


@action
def delete_expired_tenant_exports(*, actor: Actor, now: datetime | None = None) -> int:
    """Delete the ZIPs of the active tenant's expired exports (the rows stay as the record
    that an export existed); one ``tenant_export.expired`` event each. Files are removed
    after commit, so a rolled-back run never loses a file whose row still points at it."""
    from django.core.files.storage import default_storage

    require_tenant()
    now = now or timezone.now()
    expired = list(TenantExport.objects.select_for_update().filter(expires_at__lte=now).exclude(file_path=""))
    for export in expired:
        path = export.file_path
        export.file_path = ""
        export.save(update_fields=["file_path"])
        record_event("tenant_export.expired", actor=actor, target=export,
                     after={"sha256": export.sha256, "expired_at": export.expires_at.isoformat()})
        transaction.on_commit(lambda path=path: default_storage.delete(path))
    return len(expired)


def delete_expired_tenant_exports_everywhere(*, actor: Actor | None = None, now: datetime | None = None) -> int:
    """The cleanup job over every tenant (one transaction each); the scheduler calls it daily."""
    from mamori.tenancy.actions import list_tenants_across_tenants

    actor = actor or Actor.system("tenant export cleanup")
    total = 0
    for tenant in list_tenants_across_tenants():
        with tenant_context(tenant):
            total += delete_expired_tenant_exports(actor=actor, now=now)
    return total
