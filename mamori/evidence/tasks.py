"""Background jobs of mamori.evidence (run by ``mamori worker``)."""

from __future__ import annotations

from django_tasks import task


@task()
def generate_evidence_export(*, export_id: int, tenant_id: int) -> int:
    """Build one evidence package; returns the number of events in it."""
    from mamori.evidence.export import build_package
    from mamori.evidence.models import EvidenceExport
    from mamori.tenancy.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    build_package(export_id, tenant)
    return EvidenceExport.objects_across_tenants.filter(pk=export_id).values_list("event_count", flat=True).first() or 0


@task()
def purge_expired_audit_events(*, dry_run: bool = False) -> int:
    """The retention purge (schedule it daily, e.g. ``mamori audit purge`` from cron)."""
    from mamori.audit.events import Actor
    from mamori.evidence.actions import delete_expired_exports_everywhere, purge_expired_events

    actor = Actor.system("retention purge")
    removed = purge_expired_events(actor=actor, dry_run=dry_run).removed_count
    if not dry_run:
        delete_expired_exports_everywhere(actor=actor)
    return removed
