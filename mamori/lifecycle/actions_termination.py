"""Termination actions: terminate, cancel, grace override, reminders, purge start and end.

Each writes its audit events in its own transaction: the tenant's operation log (while
the tenant still has one) and the provider log. The purge's batches are in
``mamori.lifecycle.purge``; it calls ``begin_purge`` and ``finish_purge`` here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.audit.canonical import format_time
from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.core.actions import action
from mamori.core.tasks import enqueue_mail_on_commit
from mamori.lifecycle import certificate as certs
from mamori.lifecycle import termination as term
from mamori.lifecycle.models import DeletionCertificate, Termination, TerminationPolicy
from mamori.tenancy.context import require_tenant, tenant_context
from mamori.tenancy.models import Tenant

State = Termination.State
MAX_GRACE_DAYS = 365
#: Provider staff roles that may terminate, cancel or change a grace period.
PROVIDER_ROLES = ("operator", "security_officer")


def _target(tenant: Tenant) -> tuple[str, int, str]:
    return ("tenant", tenant.pk, tenant.slug)


def _provider_actor(actor: Actor | None, staff) -> Actor:
    if staff is not None:
        if not staff.is_active or staff.role not in PROVIDER_ROLES:
            raise PermissionDenied("provider.terminate", actor=None)
        return Actor.for_staff(staff)
    if actor is None:
        raise ValueError("actor or staff is required")
    return actor


def _admin_emails(tenant: Tenant) -> list[str]:
    from mamori.access.roles import Role
    from mamori.accounts.models import User

    with tenant_context(tenant):
        return sorted(User.objects.filter(role=Role.TENANT_ADMIN, is_active=True)
                      .exclude(email="").values_list("email", flat=True))


def _check_grace_days(days) -> int:
    if days is None or isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_GRACE_DAYS:
        raise ValidationError({"grace_days": _("Enter a number of days from 0 to %(max)d.") % {"max": MAX_GRACE_DAYS}})
    return days


def _schedule(*, actor: Actor, tenant: Tenant, reason: str, grace_days: int | None) -> Termination:
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if tenant.status != Tenant.Status.ACTIVE:
        raise ValidationError({"tenant": _("Only an active tenant can be terminated (this one is %(status)s).")
                               % {"status": tenant.get_status_display()}})
    if Termination.objects.filter(tenant_id=tenant.pk, state__in=Termination.OPEN_STATES).exists():
        raise ValidationError({"tenant": _("This tenant's contract is already being terminated.")})
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise ValidationError({"reason": _("At most 2000 characters.")})
    days = term.grace_days_for(tenant) if grace_days is None else _check_grace_days(grace_days)
    now = timezone.now()
    termination = Termination.objects.create(
        tenant=tenant, requested_at=now, requested_by=actor.label[:300], requested_by_type=str(actor.type),
        reason=reason, grace_days=days, ends_at=now + timedelta(days=days),
        contact_emails=_admin_emails(tenant))
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.TERMINATING)
    after = {"grace_days": days, "ends_at": format_time(termination.ends_at), "reason": reason,
             "requested_by_type": str(actor.type)}
    with tenant_context(tenant):
        record_event("tenant.termination_requested", actor=actor, target=_target(tenant),
                     before={"status": Tenant.Status.ACTIVE}, after={"status": Tenant.Status.TERMINATING, **after})
    record_provider_event("tenant.termination_requested", actor=actor, tenant_ref=tenant.pk,
                          target=_target(tenant), after=after)
    subject, body = term.render_tenant_mail("termination_scheduled", tenant, {
        "termination": termination, "console_url": term.tenant_console_url(tenant, "settings/data/")})
    if termination.contact_emails:
        enqueue_mail_on_commit(subject=subject, body=body, to=termination.contact_emails)
    return termination


@action
def request_termination(*, actor: Actor, confirm_slug: str, reason: str = "") -> Termination:
    """A tenant admin terminates the active tenant's contract (the view or API checked a fresh
    re-authentication). ``confirm_slug`` must be the tenant's slug, typed."""
    tenant = require_tenant()
    user = actor.user
    if user is None or not getattr(user, "is_tenant_admin", False) or user.tenant_id != tenant.pk:
        raise PermissionDenied("tenant.terminate", actor=actor)
    if (confirm_slug or "").strip() != tenant.slug:
        raise ValidationError({"confirm_slug": _("Type the tenant's identifier “%(slug)s” to confirm.")
                               % {"slug": tenant.slug}})
    return _schedule(actor=actor, tenant=tenant, reason=reason, grace_days=None)


@action
def terminate_tenant(*, tenant: Tenant, actor: Actor | None = None, staff=None, grace_days: int | None = None,
                     reason: str = "") -> Termination:
    """The provider terminates ``tenant`` (console: ``staff``; CLI: ``actor``). ``grace_days``
    overrides the tenant's grace period for this termination only."""
    return _schedule(actor=_provider_actor(actor, staff), tenant=tenant, reason=reason, grace_days=grace_days)


@action
def cancel_termination(*, tenant: Tenant, actor: Actor | None = None, staff=None, reason: str = "") -> Termination:
    """The provider cancels a scheduled termination: the tenant is active again."""
    actor = _provider_actor(actor, staff)
    termination = Termination.objects.select_for_update().filter(tenant_id=tenant.pk,
                                                                 state__in=Termination.OPEN_STATES).first()
    if termination is None:
        raise ValidationError({"tenant": _("This tenant has no termination to cancel.")})
    if termination.state != State.SCHEDULED:
        raise ValidationError({"tenant": _("The purge has started; the termination can no longer be cancelled.")})
    now = timezone.now()
    termination.state, termination.cancelled_at, termination.cancelled_by = State.CANCELLED, now, actor.label[:300]
    termination.save(update_fields=["state", "cancelled_at", "cancelled_by"])
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.ACTIVE)
    after = {"status": Tenant.Status.ACTIVE, "reason": (reason or "").strip()[:2000]}
    with tenant_context(tenant):
        record_event("tenant.termination_cancelled", actor=actor, target=_target(tenant),
                     before={"status": Tenant.Status.TERMINATING}, after=after)
    record_provider_event("tenant.termination_cancelled", actor=actor, tenant_ref=tenant.pk,
                          target=_target(tenant), after=after)
    recipients = term_recipients(termination, tenant)
    if recipients:
        subject, body = term.render_tenant_mail("termination_cancelled", tenant, {"termination": termination})
        enqueue_mail_on_commit(subject=subject, body=body, to=recipients)
    return termination


@action
def set_grace_period(*, tenant: Tenant, days: int | None, actor: Actor | None = None, staff=None) -> int:
    """The provider sets the tenant's grace period (``None``: back to the default). Applies to
    terminations requested from now on. Returns the effective number of days."""
    actor = _provider_actor(actor, staff)
    before = term.grace_override(tenant)
    if days is None:
        TerminationPolicy.objects.filter(tenant_id=tenant.pk).delete()
    else:
        _check_grace_days(days)
        TerminationPolicy.objects.update_or_create(tenant_id=tenant.pk,
                                                   defaults={"grace_days": days, "updated_by": actor.label[:200]})
    record_provider_event("tenant.termination_grace_set", actor=actor, tenant_ref=tenant.pk, target=_target(tenant),
                          before={"grace_days": before}, after={"grace_days": days,
                                                                "default": term.default_grace_days()})
    return term.grace_days_for(tenant)


def term_recipients(termination: Termination, tenant: Tenant) -> list[str]:
    """The tenant's admins now, else the addresses captured at termination time."""
    current = _admin_emails(tenant) if tenant.status != Tenant.Status.PURGED else []
    return current or list(termination.contact_emails or [])


@action
def send_termination_reminder(*, termination: Termination, days: int, now: datetime | None = None) -> Termination:
    """Mail the ``days``-before-the-end reminder to the tenant's admins (once per reminder day)."""
    termination = Termination.objects.select_for_update().get(pk=termination.pk)
    if termination.state != State.SCHEDULED or days in (termination.reminders_sent or []):
        return termination
    tenant = Tenant.objects.get(pk=termination.tenant_id)
    sent = set(termination.reminders_sent or [])
    sent |= {d for d in term.reminder_days() if d >= days} | {days}
    termination.reminders_sent = sorted(sent, reverse=True)
    termination.save(update_fields=["reminders_sent"])
    recipients = term_recipients(termination, tenant)
    after = {"days_before_end": days, "ends_at": format_time(termination.ends_at), "recipients": len(recipients)}
    with tenant_context(tenant):
        record_event("tenant.termination_reminder_sent", actor=Actor.system("termination job"),
                     target=_target(tenant), after=after)
    record_provider_event("tenant.termination_reminder_sent", actor=Actor.system("termination job"),
                          tenant_ref=tenant.pk, target=_target(tenant), after=after)
    if recipients:
        subject, body = term.render_tenant_mail("termination_reminder", tenant, {
            "termination": termination, "days": term.days_left(termination, now),
            "console_url": term.tenant_console_url(tenant, "settings/data/")})
        enqueue_mail_on_commit(subject=subject, body=body, to=recipients)
    return termination


@action
def begin_purge(*, actor: Actor, termination: Termination, force: bool = False) -> Termination:
    """Mark the termination ``purging`` (its grace period must have ended, unless ``force``:
    the provider's "purge now"). A purge already running is returned unchanged (resume)."""
    termination = Termination.objects.select_for_update().get(pk=termination.pk)
    if termination.state == State.PURGING:
        return termination
    if termination.state != State.SCHEDULED:
        raise ValidationError({"tenant": _("There is no scheduled termination to purge (state: %(state)s).")
                               % {"state": termination.get_state_display()}})
    now = timezone.now()
    if termination.ends_at > now and not force:
        raise ValidationError({"tenant": _("The grace period ends at %(end)s; purge earlier only with --now.")
                               % {"end": format_time(termination.ends_at)}})
    tenant = Tenant.objects.get(pk=termination.tenant_id)
    termination.state, termination.purge_started_at = State.PURGING, now
    termination.progress = {"step": "sessions", "tables": {}}
    termination.save(update_fields=["state", "purge_started_at", "progress"])
    after = {"grace_ended_at": format_time(termination.ends_at), "early": termination.ends_at > now}
    # The tenant's own log goes with its data; the provider log keeps the record of the purge.
    record_provider_event("tenant.purge_started", actor=actor, tenant_ref=tenant.pk, target=_target(tenant),
                          after=after)
    return termination


def certificate_facts(termination: Termination, tenant: Tenant, issued_at: datetime) -> dict:
    progress = termination.progress or {}
    tables = {label: int(n) for label, n in sorted((progress.get("tables") or {}).items())}
    return {
        "type": certs.CERTIFICATE_TYPE,
        "version": certs.VERSION,
        "certificate_id": str(uuid.uuid4()),
        "tenant": {"id": tenant.pk, "slug": tenant.slug, "name": tenant.name},
        "termination": {
            "requested_at": format_time(termination.requested_at),
            "requested_by_type": termination.requested_by_type,
            "grace_days": termination.grace_days,
            "grace_ended_at": format_time(termination.ends_at),
        },
        "purge": {"started_at": format_time(termination.purge_started_at or issued_at),
                  "finished_at": format_time(issued_at)},
        "tables": tables,
        "rows_deleted": sum(tables.values()),
        "sessions_deleted": int(progress.get("sessions", 0)),
        "files_removed": int(progress.get("files_total", 0)),
        "backups_removed": int(progress.get("backups", 0)),
        "provider_records_anonymised": {k: int(v) for k, v in sorted((progress.get("scrubbed") or {}).items())},
        "data_keys_destroyed": list(progress.get("keys") or []),
        "issued_at": format_time(issued_at),
        "provider": {"name": _provider_name()},
    }


def _provider_name() -> str:
    from django.conf import settings

    return str(settings.PROVIDER_NAME)


@action
def finish_purge(*, actor: Actor, termination: Termination) -> DeletionCertificate:
    """Issue the signed deletion certificate, mark the tenant ``purged``, mail the certificate to the
    addresses captured at termination time, then forget those addresses. Idempotent."""
    termination = Termination.objects.select_for_update().get(pk=termination.pk)
    existing = DeletionCertificate.objects.filter(termination_id=termination.pk).first()
    if existing is not None:
        return existing
    if termination.state != State.PURGING or (termination.progress or {}).get("step") != "certificate":
        raise ValidationError({"tenant": _("The purge has not finished its steps yet.")})
    tenant = Tenant.objects.get(pk=termination.tenant_id)
    now = timezone.now()
    facts = certificate_facts(termination, tenant, now)
    document = certs.sign_facts(facts)
    recipients = list(termination.contact_emails or [])
    cert = DeletionCertificate.objects.create(
        termination=termination, certificate_id=facts["certificate_id"], tenant_ref=tenant.pk,
        tenant_slug=tenant.slug, tenant_name=tenant.name, issued_at=now, rows_deleted=facts["rows_deleted"],
        files_removed=facts["files_removed"], key_id=document["signature"]["key_id"],
        signature=document["signature"]["value"], sha256=certs.document_sha256(document),
        document=certs.dumps(document), emailed_to_count=len(recipients))
    termination.state, termination.purged_at, termination.contact_emails = State.PURGED, now, []
    termination.progress = {**(termination.progress or {}), "step": "done"}
    termination.save(update_fields=["state", "purged_at", "contact_emails", "progress"])
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.PURGED)
    record_provider_event("tenant.purged", actor=actor, tenant_ref=tenant.pk, target=_target(tenant),
                          before={"status": Tenant.Status.TERMINATING},
                          after={"status": Tenant.Status.PURGED, "certificate_id": cert.certificate_id,
                                 "certificate_sha256": cert.sha256, "rows_deleted": cert.rows_deleted,
                                 "files_removed": cert.files_removed,
                                 "data_keys_destroyed": len(facts["data_keys_destroyed"]),
                                 "certificate_mailed_to": len(recipients)})
    if recipients:
        subject, body = term.render_tenant_mail("deletion_certificate", tenant, {
            "certificate": cert, "facts": facts, "document": cert.document})
        enqueue_mail_on_commit(subject=subject, body=body, to=recipients)
    return cert
