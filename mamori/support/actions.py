"""Support access with the tenant's consent (15.1.2, 9.4.4): every state change, audited.

Each event goes to the tenant's operation log (the row and the decision belong to the
tenant) and to the provider log (the provider must be able to show who asked for what).
Staff actions (request, cancel) run from the provider console, where no tenant is active:
they open the tenant's context themselves. Tenant actions (approve, shorten, refuse,
revoke) need a tenant admin; the console asks for a recent re-authentication first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Perm, Role
from mamori.audit.events import Actor, record_event, record_provider_event, snapshot
from mamori.core.actions import action
from mamori.operations.models import ProviderStaff
from mamori.support import mail
from mamori.support.accounts import disable_support_user, is_support_user, provision_support_user
from mamori.support.models import SupportAccessRequest
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant

State = SupportAccessRequest.State
Scope = SupportAccessRequest.Scope
REQUESTING_ROLES = (ProviderStaff.StaffRole.SUPPORT, ProviderStaff.StaffRole.OPERATOR)
SNAPSHOT = ["state", "scope", "requested_hours", "approved_until", "decided_at", "ended_at"]


def max_hours() -> int:
    return int(settings.MAMORI_SUPPORT_ACCESS_MAX_HOURS)


def _target(grant: SupportAccessRequest) -> tuple[str, str, str]:
    return ("support.supportaccessrequest", str(grant.pk), str(grant))


def _both_logs(name: str, *, actor: Actor, grant: SupportAccessRequest, tenant: Tenant,
               before: dict | None = None, after: dict | None = None) -> None:
    record_event(name, actor=actor, target=_target(grant), before=before, after=after)
    record_provider_event(name, actor=actor, target=_target(grant), tenant_ref=tenant.pk,
                          before=before, after=after)


def _hours(value, field: str, *, limit: int) -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: _("Enter a whole number of hours.")}) from None
    if not 1 <= hours <= limit:
        raise ValidationError({field: _("Enter between 1 and %(max)d hours.") % {"max": limit}})
    return hours


def _lock(grant_id) -> SupportAccessRequest:
    try:
        pk = int(grant_id)
    except (TypeError, ValueError):
        raise NotFound from None
    grant = SupportAccessRequest.objects.select_for_update().filter(pk=pk).first()
    if grant is None:
        raise NotFound
    return grant


def _require_tenant_admin(actor: Actor) -> None:
    user = actor.user
    if (user is None or not user.is_active or user.role != Role.TENANT_ADMIN or is_support_user(user)):
        raise PermissionDenied(Perm.MANAGE_SECURITY, actor=actor)


# --- staff side ------------------------------------------------------------------------------

def request_access(*, staff: ProviderStaff, tenant: Tenant, reason: str, scope: str,
                   hours) -> SupportAccessRequest:
    """A support or operator staff member asks a tenant for access; its contacts are mailed.

    Staff of other roles are refused, and the refusal stays in the provider log (written
    outside the action's transaction, which the refusal rolls back)."""
    if not staff.is_active or staff.role not in REQUESTING_ROLES:
        actor = Actor.for_staff(staff)
        record_provider_event("access.denied", actor=actor, tenant_ref=tenant.pk,
                              after={"permission": "support.request", "role": staff.role})
        raise PermissionDenied("support.request", actor=actor)
    return create_request(staff=staff, tenant=tenant, reason=reason, scope=scope, hours=hours)


@action
def create_request(*, staff: ProviderStaff, tenant: Tenant, reason: str, scope: str,
                   hours) -> SupportAccessRequest:
    """The request itself (``request_access`` has checked the staff member's role)."""
    actor = Actor.for_staff(staff)
    if not staff.is_active or staff.role not in REQUESTING_ROLES:
        raise PermissionDenied("support.request", actor=actor)
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("Say why you need access (the tenant's admins read this).")
    elif len(reason) > 2000:
        errors["reason"] = _("At most 2000 characters.")
    if scope not in Scope.values:
        errors["scope"] = _("Choose read only or read and write.")
    try:
        hours = _hours(hours, "hours", limit=max_hours())
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not tenant.is_open:
        errors["tenant"] = _("This tenant is not active.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with tenant_context(tenant):
        open_ones = SupportAccessRequest.objects.filter(staff_id=staff.pk, state__in=(State.REQUESTED, State.APPROVED))
        if any(g.state == State.REQUESTED or g.is_active(now) for g in open_ones):
            raise ValidationError({"tenant": _("You already have an open request or an active grant for this "
                                               "tenant. Cancel it first.")})
        grant = SupportAccessRequest.objects.create(
            staff_id=staff.pk, staff_email=staff.email, staff_name=staff.name, reason=reason, scope=scope,
            requested_hours=hours, requested_at=now)
        _both_logs("support.access_requested", actor=actor, grant=grant, tenant=tenant,
                   after={"staff": staff.email, "reason": reason, "scope": scope, "hours": hours})
        mail.mail_request_to_contacts(grant, tenant)
    return grant


@action
def cancel_request(*, staff: ProviderStaff, tenant: Tenant, grant_id) -> SupportAccessRequest:
    """The staff member withdraws a request, or gives an active grant back before its end."""
    actor = Actor.for_staff(staff)
    with tenant_context(tenant):
        grant = _lock(grant_id)
        if grant.staff_id != staff.pk:
            raise NotFound
        if grant.state not in (State.REQUESTED, State.APPROVED):
            raise ValidationError({"state": _("This request is already closed.")})
        before = snapshot(grant, SNAPSHOT)
        grant.state, grant.ended_at = State.CANCELLED, timezone.now()
        grant.save(update_fields=["state", "ended_at"])
        _both_logs("support.access_cancelled", actor=actor, grant=grant, tenant=tenant,
                   before=before, after=snapshot(grant, SNAPSHOT))
        disable_support_user(grant.support_user)
    return grant


# --- tenant side -----------------------------------------------------------------------------

@action
def approve_request(*, actor: Actor, tenant: Tenant, grant_id, hours=None, note: str = "") -> SupportAccessRequest:
    """A tenant admin approves, for the requested duration or a shorter one (``hours``)."""
    _require_tenant_admin(actor)
    with tenant_context(tenant):
        grant = _lock(grant_id)
        if grant.state != State.REQUESTED:
            raise ValidationError({"state": _("This request is no longer waiting for a decision.")})
        granted = grant.requested_hours if hours in (None, "") else _hours(hours, "hours",
                                                                            limit=grant.requested_hours)
        now = timezone.now()
        before = snapshot(grant, SNAPSHOT)
        grant.state, grant.decided_at, grant.decided_by = State.APPROVED, now, actor.user
        grant.decision_note = (note or "").strip()[:500]
        grant.approved_until = now + timedelta(hours=granted)
        grant.support_user = provision_support_user(grant)
        grant.save()
        _both_logs("support.access_approved", actor=actor, grant=grant, tenant=tenant, before=before,
                   after={**snapshot(grant, SNAPSHOT), "hours": granted, "shortened": granted < grant.requested_hours,
                          "support_user": grant.support_user_id})
        mail.mail_decision_to_staff(grant, tenant)
    return grant


@action
def shorten_access(*, actor: Actor, tenant: Tenant, grant_id, hours) -> SupportAccessRequest:
    """A tenant admin moves the end of an active grant earlier: ``hours`` from now."""
    _require_tenant_admin(actor)
    with tenant_context(tenant):
        grant = _lock(grant_id)
        now = timezone.now()
        if not grant.is_active(now):
            raise ValidationError({"state": _("Only an active grant can be shortened.")})
        hours = _hours(hours, "hours", limit=max_hours())
        until = now + timedelta(hours=hours)
        if until >= grant.approved_until:
            raise ValidationError({"hours": _("The new end must be earlier than the current one.")})
        before = snapshot(grant, SNAPSHOT)
        grant.approved_until = until
        grant.save(update_fields=["approved_until"])
        _both_logs("support.access_shortened", actor=actor, grant=grant, tenant=tenant, before=before,
                   after=snapshot(grant, SNAPSHOT))
    return grant


@action
def refuse_request(*, actor: Actor, tenant: Tenant, grant_id, note: str = "") -> SupportAccessRequest:
    _require_tenant_admin(actor)
    with tenant_context(tenant):
        grant = _lock(grant_id)
        if grant.state != State.REQUESTED:
            raise ValidationError({"state": _("This request is no longer waiting for a decision.")})
        before = snapshot(grant, SNAPSHOT)
        grant.state, grant.decided_at, grant.decided_by = State.REFUSED, timezone.now(), actor.user
        grant.decision_note = (note or "").strip()[:500]
        grant.save()
        _both_logs("support.access_refused", actor=actor, grant=grant, tenant=tenant, before=before,
                   after={**snapshot(grant, SNAPSHOT), "note": grant.decision_note})
        mail.mail_decision_to_staff(grant, tenant)
    return grant


@action
def revoke_access(*, actor: Actor, tenant: Tenant, grant_id) -> SupportAccessRequest:
    """A tenant admin ends an active grant at once: its support user is disabled, its sessions end."""
    _require_tenant_admin(actor)
    with tenant_context(tenant):
        grant = _lock(grant_id)
        if grant.state != State.APPROVED:
            raise ValidationError({"state": _("Only an approved grant can be revoked.")})
        before = snapshot(grant, SNAPSHOT)
        grant.state, grant.ended_at, grant.ended_by = State.REVOKED, timezone.now(), actor.user
        grant.save(update_fields=["state", "ended_at", "ended_by"])
        ended = disable_support_user(grant.support_user)
        _both_logs("support.access_revoked", actor=actor, grant=grant, tenant=tenant, before=before,
                   after={**snapshot(grant, SNAPSHOT), "sessions_ended": ended})
        mail.mail_decision_to_staff(grant, tenant)
    return grant


@action
def expire_access(*, tenant: Tenant, grant_id, now: datetime | None = None) -> SupportAccessRequest | None:
    """The system closes a grant whose end has passed (the job, or the first request after the end)."""
    now = now or timezone.now()
    with tenant_context(tenant):
        grant = _lock(grant_id)
        if grant.state != State.APPROVED or grant.approved_until is None or grant.approved_until > now:
            return None
        before = snapshot(grant, SNAPSHOT)
        grant.state, grant.ended_at = State.EXPIRED, now
        grant.save(update_fields=["state", "ended_at"])
        ended = disable_support_user(grant.support_user)
        _both_logs("support.access_expired", actor=Actor.system("support access expiry"), grant=grant,
                   tenant=tenant, before=before, after={**snapshot(grant, SNAPSHOT), "sessions_ended": ended})
    return grant


@action
def start_session(*, staff: ProviderStaff, tenant: Tenant, grant_id) -> SupportAccessRequest:
    """Record that the staff member entered the tenant console under an active grant."""
    with tenant_context(tenant):
        grant = _lock(grant_id)
        if grant.staff_id != staff.pk or not staff.is_active or not grant.is_active() or grant.support_user is None:
            raise NotFound
        user = grant.support_user
        if not user.is_active or user.role != grant.support_role:
            raise NotFound
        actor = session_actor(grant)
        _both_logs("support.session_started", actor=actor, grant=grant, tenant=tenant,
                   after={"scope": grant.scope, "until": grant.approved_until.isoformat()})
    return grant


@action
def end_session(*, tenant: Tenant, grant: SupportAccessRequest, reason: str) -> None:
    """Record the end of a support session (sign-out, expiry, revocation, a broken hand-off)."""
    with tenant_context(tenant):
        _both_logs("support.session_ended", actor=session_actor(grant), grant=grant, tenant=tenant,
                   after={"reason": reason})


@action
def record_page_view(*, grant: SupportAccessRequest, method: str, path: str, status: int) -> None:
    """One ``support.page_viewed`` event per console page the staff member opens (no query string)."""
    record_event("support.page_viewed", actor=session_actor(grant), target=_target(grant),
                 after={"method": method, "path": path[:500], "status": status})


def session_actor(grant: SupportAccessRequest) -> Actor:
    from mamori.audit.models import ActorType
    from mamori.support.accounts import support_label

    return Actor(ActorType.SUPPORT, str(grant.support_user_id or ""), support_label(grant.staff_email),
                 grant.support_user)
