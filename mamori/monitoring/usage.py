"""Per-tenant usage for the metrics endpoint, measured by a periodic job (never on a scrape).

For every tenant that is not purged: the bytes and files stored under its storage prefix
(``tenants/<id>/`` in the default storage: attachments, exports, per-tenant backups) and its
sign-in failures of the last hour (audit events, counted inside the tenant's context so that
row-level security applies). Only the tenant's numeric id is kept — no names.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

SIGNIN_FAILURE_ACTIONS = ("auth.login_failed", "auth.mfa_failed", "sso.login_failed", "sso.password_refused")
MAX_FILES_WALKED = 200_000  # a bound per tenant; the count says when it was reached


def storage_usage(prefix: str) -> tuple[int, int]:
    """(bytes, files) under ``prefix`` of the default storage."""
    total = files = 0
    pending = [prefix.rstrip("/")]
    while pending and files < MAX_FILES_WALKED:
        folder = pending.pop()
        try:
            dirs, names = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        pending.extend(f"{folder}/{d}" for d in dirs)
        for name in names:
            try:
                total += default_storage.size(f"{folder}/{name}")
            except OSError:  # deleted (or unreadable) while walking
                continue
            files += 1
    return total, files


def signin_failures_since(tenant, since: datetime) -> int:
    from mamori.audit.models import AuditEvent
    from mamori.tenancy.context import tenant_context

    with tenant_context(tenant):
        return AuditEvent.objects.filter(action__in=SIGNIN_FAILURE_ACTIONS, occurred_at__gte=since).count()


def measure_tenant_usage(now: datetime | None = None) -> int:
    """Refresh ``TenantUsage`` for every tenant; returns the number of tenants measured."""
    from mamori.lifecycle.walk import tenant_storage_prefix
    from mamori.monitoring.models import TenantUsage
    from mamori.tenancy.actions import list_tenants_across_tenants
    from mamori.tenancy.models import Tenant

    now = now or timezone.now()
    since = now - timedelta(hours=1)
    seen = []
    for tenant in list_tenants_across_tenants().exclude(status=Tenant.Status.PURGED):
        size, files = storage_usage(tenant_storage_prefix(tenant.pk))
        failures = signin_failures_since(tenant, since)
        TenantUsage.objects.update_or_create(tenant_id=tenant.pk, defaults={
            "storage_bytes": size, "files": files, "signin_failures_last_hour": failures, "measured_at": now})
        seen.append(tenant.pk)
    TenantUsage.objects.exclude(tenant_id__in=seen).delete()
    return len(seen)
