"""State changes of mamori.evidence: retention overrides, the purge, evidence exports.

Each action runs in one transaction and writes its audit event in it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, Role, can
from mamori.audit.canonical import chain_name
from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.core.actions import action
from mamori.evidence import purge, retention
from mamori.evidence.models import AuditCheckpoint, Category, EvidenceExport, RetentionOverride
from mamori.tenancy.context import require_tenant, tenant_context

MAX_RANGE_DAYS = 366


def is_evidence_admin(user) -> bool:
    """Evidence and retention belong to tenant admins who may view the log."""
    return can(user, Perm.VIEW_AUDIT) and getattr(user, "role", None) == Role.TENANT_ADMIN


def require_evidence_admin(actor: Actor) -> None:
    if actor.user is None or not is_evidence_admin(actor.user):
        raise PermissionDenied(Perm.VIEW_AUDIT, actor=actor)


# --- Retention overrides ------------------------------------------------------------------

@action
def set_retention(*, actor: Actor, category: str, days: int | None) -> RetentionOverride | None:
    """Set (or with ``days=None`` clear) the tenant's retention for one category."""
    require_tenant()
    require_evidence_admin(actor)
    if category not in Category.values:
        raise ValidationError({"category": _("Unknown category.")})
    current = RetentionOverride.objects.filter(category=category).first()
    before = {"category": category, "days": current.days if current else None,
              "default_days": retention.default_days(category)}
    if days is None:
        if current is not None:
            current.delete()
        record_event("audit.retention_changed", actor=actor, before=before,
                     after={"category": category, "days": None})
        return None
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValidationError({"days": _("Enter a whole number of days (0 or more).")})
    limits = retention.bounds(category)
    if not limits.allows(days):
        raise ValidationError({"days": _("Allowed: %(bounds)s.") % {"bounds": limits.describe()}})
    override = current or RetentionOverride(category=category)
    override.days = days
    override.save()
    record_event("audit.retention_changed", actor=actor, target=override, before=before,
                 after={"category": category, "days": days})
    return override


# --- The purge ------------------------------------------------------------------------------

def _checkpoint(plan: purge.PurgePlan, now: datetime) -> AuditCheckpoint:
    from mamori.audit import signing
    from mamori.audit.digests import create_digest

    message = retention.checkpoint_message(
        chain=plan.chain, purged_through_seq=plan.purged_through_seq, hash_at_seq=plan.hash_at_seq,
        removed_count=plan.removed_count, created_at=now)
    key_id, signature = signing.sign(message)
    # Also a signed digest at the last purged event: `mamori audit verify` anchors a chain
    # that no longer starts at 1 on the digest at first_seq - 1 (mamori.audit.digests).
    create_digest(plan.chain, up_to_seq=plan.purged_through_seq, head_hash=plan.hash_at_seq)
    return AuditCheckpoint.objects.create(
        chain=plan.chain, purged_through_seq=plan.purged_through_seq, hash_at_seq=plan.hash_at_seq,
        removed_count=plan.removed_count, created_at=now, key_id=key_id, signature=signature)


@action
def purge_tenant_log(*, actor: Actor, now: datetime, dry_run: bool = False) -> purge.PurgePlan | None:
    """Remove the active tenant's expired prefix; checkpoint first, then delete, then the event."""
    from mamori.audit.models import AuditEvent
    from mamori.audit.purge import allow_purge

    plan = purge.tenant_plan(now)
    if plan is None or dry_run:
        return plan
    checkpoint = _checkpoint(plan, now)
    with allow_purge():
        removed = purge.delete_prefix(AuditEvent.objects.all(), plan.purged_through_seq)
    if removed != plan.removed_count:
        raise RuntimeError(f"purge of {plan.chain} removed {removed} events, planned {plan.removed_count}")
    record_event("audit.purged", actor=actor, target=("evidence.auditcheckpoint", checkpoint.pk, plan.chain),
                 after={"purged_through_seq": plan.purged_through_seq, "removed_count": removed})
    return plan


@action
def purge_provider_log(*, actor: Actor, now: datetime, dry_run: bool = False,
                       tenant_plans: list[tuple[str, purge.PurgePlan]] | None = None) -> purge.PurgePlan | None:
    """Remove the provider log's expired prefix, then write the run's one provider-log
    ``audit.purged`` event (with what the tenant purges before it removed)."""
    from mamori.audit.models import ProviderEvent
    from mamori.audit.purge import allow_purge

    plan = purge.provider_plan(now)
    if dry_run:
        return plan
    if plan is not None:
        _checkpoint(plan, now)
        with allow_purge():
            removed = purge.delete_prefix(ProviderEvent.objects.all(), plan.purged_through_seq)
        if removed != plan.removed_count:
            raise RuntimeError(f"purge of the provider log removed {removed} events, planned {plan.removed_count}")
    plans = list(tenant_plans or []) + ([("provider", plan)] if plan is not None else [])
    record_provider_event("audit.purged", actor=actor, after={
        "removed_count": sum(p.removed_count for _who, p in plans),
        "chains": {who: {"purged_through_seq": p.purged_through_seq, "removed_count": p.removed_count}
                   for who, p in plans},
    })
    return plan


def purge_expired_events(*, actor: Actor, dry_run: bool = False, now: datetime | None = None
                         ) -> purge.PurgeReport:
    """The retention job: every tenant's log (one transaction each), then the provider log
    with one ``audit.purged`` event in the provider log summarising the run."""
    from mamori.tenancy.actions import list_tenants_across_tenants

    now = now or timezone.now()
    report = purge.PurgeReport(dry_run=dry_run)
    for tenant in list_tenants_across_tenants():
        with tenant_context(tenant):
            plan = purge_tenant_log(actor=actor, now=now, dry_run=dry_run)
        if plan is not None:
            report.plans.append((tenant.slug, plan))
    plan = purge_provider_log(actor=actor, now=now, dry_run=dry_run, tenant_plans=list(report.plans))
    if plan is not None:
        report.plans.append(("provider", plan))
    return report


# --- Evidence exports -------------------------------------------------------------------------

def clean_range(since: datetime | None, until: datetime | None, *, now: datetime | None = None
                ) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if since is None:
        errors["since"] = _("This field is required.")
    if until is None:
        errors["until"] = _("This field is required.")
    if errors:
        raise ValidationError(errors)
    assert since is not None and until is not None
    if timezone.is_naive(since) or timezone.is_naive(until):
        raise ValidationError({"since": _("Times need a time zone.")})
    if since > now:
        errors["since"] = _("The start cannot be in the future.")
    if until > now + timedelta(days=1):
        errors["until"] = _("The end cannot be in the future.")
    if since >= until:
        errors["until"] = _("The end must be after the start.")
    elif until - since > timedelta(days=MAX_RANGE_DAYS):
        errors["until"] = _("A range covers at most %(n)d days.") % {"n": MAX_RANGE_DAYS}
    if errors:
        raise ValidationError(errors)
    return since, min(until, now)


@action
def request_export(*, actor: Actor, since: datetime | None, until: datetime | None) -> EvidenceExport:
    """Queue an evidence package for ``[since, until)``; a worker generates it."""
    tenant = require_tenant()
    require_evidence_admin(actor)
    since, until = clean_range(since, until)
    export = EvidenceExport.objects.create(created_by=actor.user, since=since, until=until)
    record_event("evidence.export_requested", actor=actor, target=export,
                 after={"since": since.isoformat(), "until": until.isoformat(),
                        "chain": chain_name(tenant.pk)})
    from mamori.evidence.tasks import generate_evidence_export

    export_id, tenant_id = export.pk, tenant.pk
    transaction.on_commit(lambda: generate_evidence_export.enqueue(export_id=export_id, tenant_id=tenant_id))
    return export


@action
def finish_export(*, export_id: int, ok: bool, error: str = "", **fields) -> EvidenceExport:
    """Mark a generated export ready (or failed) and write its event (system actor)."""
    export = EvidenceExport.objects.get(pk=export_id)
    for name, value in fields.items():
        setattr(export, name, value)
    export.status = EvidenceExport.Status.COMPLETED if ok else EvidenceExport.Status.FAILED
    export.progress = 100 if ok else export.progress
    export.error = error[:500]
    export.completed_at = timezone.now()
    export.save()
    record_event("evidence.export_completed" if ok else "evidence.export_failed",
                 actor=Actor.system("evidence export"), target=export,
                 after={"event_count": export.event_count, "first_seq": export.first_seq,
                        "last_seq": export.last_seq, "sha256": export.sha256, "error": export.error})
    return export


@action
def record_download(*, actor: Actor, export: EvidenceExport) -> None:
    require_evidence_admin(actor)
    record_event("evidence.export_downloaded", actor=actor, target=export,
                 after={"sha256": export.sha256, "size": export.file_size})


@action
def delete_expired_exports(*, actor: Actor, now: datetime | None = None) -> int:
    """Delete the files of the active tenant's expired evidence packages (their rows stay,
    as the record that a package existed); one ``evidence.export_expired`` event each.

    Files are removed after commit, so a rolled-back run never loses a file whose row
    still points at it.
    """
    from django.core.files.storage import default_storage

    require_tenant()
    now = now or timezone.now()
    expired = list(EvidenceExport.objects.filter(expires_at__lte=now).exclude(file_path=""))
    for export in expired:
        path = export.file_path
        export.file_path = ""
        export.save(update_fields=["file_path"])
        record_event("evidence.export_expired", actor=actor, target=export,
                     after={"sha256": export.sha256, "expired_at": export.expires_at.isoformat()})
        transaction.on_commit(lambda path=path: default_storage.delete(path))
    return len(expired)


def delete_expired_exports_everywhere(*, actor: Actor, now: datetime | None = None) -> int:
    """The daily job over every tenant (one transaction each)."""
    from mamori.tenancy.actions import list_tenants_across_tenants

    total = 0
    for tenant in list_tenants_across_tenants():
        with tenant_context(tenant):
            total += delete_expired_exports(actor=actor, now=now)
    return total
