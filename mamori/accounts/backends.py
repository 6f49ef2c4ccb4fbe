"""Authentication scoped to the active tenant.

Lookups go through the tenant manager, so credentials of tenant A can never
authenticate at tenant B (the user simply does not exist there), and a session
created in tenant A is anonymous on tenant B's URLs. Unknown e-mails still run
the password hasher once, so timing does not reveal which accounts exist.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.db import transaction
from django.utils import timezone

from mamori.tenancy.context import current_tenant


def initial_password_expired(user, *, now=None) -> bool:
    """An initial password set by an admin (``must_change_password``) older than
    ``INITIAL_PASSWORD_MAX_AGE_HOURS`` no longer signs in (ASVS 6.4.1): it travelled to the user
    outside Mamori, so it must not stay usable for ever if the user never picked it up."""
    hours = settings.INITIAL_PASSWORD_MAX_AGE_HOURS
    set_at = user.password_changed_at
    if hours <= 0 or not user.must_change_password or set_at is None or not user.has_usable_password():
        return False
    return set_at <= (now or timezone.now()) - timedelta(hours=hours)


def _refuse_expired_initial_password(request, user) -> None:
    """Audited, and the reason is kept for the sign-in form (``MamoriAccountAdapter.authenticate``).
    Only a caller who knew the password gets here, so the reason tells nothing to anyone else."""
    from mamori.audit.events import Actor, record_event

    with transaction.atomic():
        record_event("auth.initial_password_expired", actor=Actor.anonymous(user.email),
                     target=("accounts.user", str(user.pk), user.email),
                     after={"method": "password", "reason": "initial_password_expired"})
    if request is not None:
        request.mamori_signin_refusal = "initial_password_expired"


class TenantAuthenticationBackend(BaseBackend):
    def authenticate(self, request, email=None, password=None, username=None, **kwargs):
        email = email or username
        if current_tenant() is None or not email or password is None:
            return None
        User = get_user_model()
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            User().set_password(password)  # equalise timing with a real check
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            from mamori.sso.policy import password_signin_refused

            # "SSO required" (mamori.sso): only break-glass admins may still use a password.
            if password_signin_refused(user):
                return None
            if initial_password_expired(user):
                _refuse_expired_initial_password(request, user)
                return None
            return user
        return None

    def user_can_authenticate(self, user) -> bool:
        return bool(user.is_active)

    def get_user(self, user_id):
        if current_tenant() is None:
            return None
        User = get_user_model()
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
