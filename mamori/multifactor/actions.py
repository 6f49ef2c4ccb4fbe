"""State changes of the multifactor app: the tenant's MFA policy and the admin MFA reset."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.accounts.actions import _target, user_action
from mamori.accounts.models import User
from mamori.audit.events import Actor, record_event
from mamori.core.actions import action
from mamori.multifactor.models import MfaPolicy, MfaRequirement
from mamori.multifactor.policy import requirement_for_tenant
from mamori.tenancy.context import require_tenant


@action
def update_mfa_policy(*, actor: Actor, requirement: str) -> str:
    """Set who must use MFA: ``optional``, ``admins`` (tenant and unit admins) or ``everyone``.

    Users the new policy covers who have no second factor are led to enrolment at
    their next request (``MfaEnrolmentRequiredMiddleware``).
    """
    tenant = require_tenant()
    if actor.user is None or not can(actor.user, Perm.MANAGE_SECURITY):
        raise PermissionDenied(Perm.MANAGE_SECURITY, actor=actor)
    if requirement not in MfaRequirement.values:
        raise ValidationError({"requirement": _("Choose optional, admins or everyone.")})
    before = requirement_for_tenant(tenant)
    row = MfaPolicy.objects.select_for_update().filter(tenant_id=tenant.pk).first() or MfaPolicy(tenant=tenant)
    row.requirement = requirement
    row.save()
    if before != requirement:
        record_event("security.mfa_policy_updated", actor=actor, target=("multifactor.mfapolicy", row.pk, "MFA policy"),
                     before={"requirement": before}, after={"requirement": requirement})
    return requirement


@user_action
def reset_mfa(*, actor: Actor, user: User | int) -> User:
    """Remove every MFA method of another user (lost phone or key). Same rules as other user
    actions: users.manage, inside a unit admin's scope, only tenant admins act on admins,
    never on oneself (one's own methods are managed on one's MFA page). The user's sessions
    end; under a policy that requires MFA they enrol again at their next sign-in."""
    target = _target(actor, user, name="reset_mfa")
    authenticators = list(Authenticator.objects.filter(user_id=target.pk).order_by("pk"))
    if not authenticators:
        raise ValidationError({"user": _("This user has no two-factor authentication to reset.")})
    removed = sorted({a.type for a in authenticators})
    from mamori.multifactor.signals import quiet

    with quiet():
        Authenticator.objects.filter(user_id=target.pk).delete()
    target.rotate_session_stamp()
    target.save(update_fields=["session_stamp"])
    from mamori.accounts.sessions import delete_user_sessions

    delete_user_sessions(target)
    record_event("mfa.reset", actor=actor, target=target, before={"types": removed},
                 after={"types": [], "sessions_ended": True})
    return target
