"""The dedicated support user: the only tenant ``User`` a provider staff member can act as.

One support user per (tenant, staff member), created at the first approval and reused by
later grants. Its e-mail column holds ``"<staff e-mail> (support access)"``: that string is
the actor label of every audit event written while the staff member works in the tenant
(``Actor.for_user`` labels events with the user's e-mail), it shows up as such in user
lists, and it is not a valid address, so nobody can sign in with it, reset its password or
be mailed through it. Its role is viewer (read only) or editor (read and write), never an
admin role. The password is 48 random bytes that are never shown or stored anywhere else
(the staff member enters through the signed hand-off of ``mamori.support.sessions``, and a
session of this user without a valid hand-off is ended at once by the support middleware).
"""

from __future__ import annotations

import secrets

from django.utils import timezone

from mamori.accounts.models import ApiToken, User
from mamori.support.models import SupportAccessRequest

SUPPORT_SUFFIX = " (support access)"


def support_label(staff_email: str) -> str:
    return f"{staff_email}{SUPPORT_SUFFIX}"


def is_support_user(user) -> bool:
    """True for a tenant user that some support grant maps to (one indexed query)."""
    if user is None or not getattr(user, "pk", None):
        return False
    # Explicitly scoped to the user's own tenant, so it also works before the ORM's tenant is bound
    # (the API branch of the tenant middleware); on PostgreSQL RLS limits it to that tenant as well.
    return SupportAccessRequest.objects_across_tenants.filter(tenant_id=user.tenant_id,
                                                              support_user_id=user.pk).exists()


def provision_support_user(grant: SupportAccessRequest) -> User:
    """Create or re-enable the grant's support user with the grant's role (inside the action)."""
    email = support_label(grant.staff_email)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(email=email)
    user.name = support_label(grant.staff_name or grant.staff_email)[:150]
    user.role = grant.support_role
    user.is_active = True
    user.must_change_password = False
    user.set_password(secrets.token_urlsafe(48))  # never shown: nobody can type it
    user.rotate_session_stamp()
    user.save()
    return user


def disable_support_user(user: User | None) -> int:
    """Deactivate the support user, end its sessions and revoke any API token; returns sessions ended."""
    if user is None:
        return 0
    from mamori.accounts.sessions import delete_user_sessions

    user.is_active = False
    user.rotate_session_stamp()  # every session's auth hash stops matching at once
    user.save(update_fields=["is_active", "session_stamp"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return delete_user_sessions(user)
