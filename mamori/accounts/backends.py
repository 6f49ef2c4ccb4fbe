"""Authentication scoped to the active tenant.

Lookups go through the tenant manager, so credentials of tenant A can never
authenticate at tenant B (the user simply does not exist there), and a session
created in tenant A is anonymous on tenant B's URLs. Unknown e-mails still run
the password hasher once, so timing does not reveal which accounts exist.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend

from mamori.tenancy.context import current_tenant


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
