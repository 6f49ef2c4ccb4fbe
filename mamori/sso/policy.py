""""SSO required": password sign-in is refused for everyone but the break-glass admins."""

from __future__ import annotations

from django.db import transaction

from mamori.tenancy.context import current_tenant


def required_connection():
    from mamori.sso.models import SsoConnection

    if current_tenant() is None:
        return None
    return SsoConnection.objects.filter(enabled=True, sso_required=True).first()


def password_signin_refused(user) -> bool:
    """True (and audited) when the tenant requires SSO and ``user`` is no break-glass admin.

    Called by the authentication backend after the password matched, so the answer
    to a wrong password stays the same as everywhere else.
    """
    conn = required_connection()
    if conn is None or user.pk in (conn.break_glass_user_ids or []):
        return False
    from mamori.audit.events import Actor, record_event

    with transaction.atomic():
        record_event("sso.password_refused", actor=Actor.anonymous(user.email),
                     target=("accounts.user", str(user.pk), user.email),
                     after={"method": "password", "reason": "sso_required"})
    return True
