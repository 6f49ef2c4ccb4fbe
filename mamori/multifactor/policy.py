"""Reading the tenant's MFA policy and deciding who must use a second factor."""

from __future__ import annotations

from allauth.mfa.models import Authenticator

from mamori.access.roles import Role
from mamori.multifactor.models import MfaPolicy, MfaRequirement

ADMIN_ROLES = (Role.TENANT_ADMIN, Role.UNIT_ADMIN)
# Methods that count as a second factor (recovery codes alone do not: they are the fallback).
FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def requirement_for_tenant(tenant) -> str:
    """The tenant's requirement (``optional`` when none was saved)."""
    if tenant is None:
        return MfaRequirement.OPTIONAL
    row = MfaPolicy.objects.filter(tenant_id=tenant.pk).values_list("requirement", flat=True).first()
    return row or MfaRequirement.OPTIONAL


def mfa_required_for(user, requirement: str) -> bool:
    """Whether ``requirement`` obliges ``user`` to have a second factor."""
    if requirement == MfaRequirement.EVERYONE:
        return True
    if requirement == MfaRequirement.ADMINS:
        return getattr(user, "role", None) in ADMIN_ROLES
    return False


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=FACTOR_TYPES).exists()


def must_enrol(user, tenant) -> bool:
    """True when the tenant's policy requires MFA of ``user`` and they have none yet."""
    if user is None or not user.is_authenticated:
        return False
    from mamori.support.accounts import is_support_user

    if is_support_user(user):
        # A support session is entered through the provider console, whose staff sign-in
        # already asked for a second factor; the support user itself never signs in.
        return False
    return mfa_required_for(user, requirement_for_tenant(tenant)) and not has_second_factor(user)
