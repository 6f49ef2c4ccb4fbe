"""Session policy changes and ending one's own sessions (issue 4, item 6)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Perm, can
from mamori.accounts.sessions import (
    FIELDS,
    SessionLimits,
    clean_session_policy,
    session_policy_for_tenant,
)
from mamori.audit.events import Actor, diff, record_event
from mamori.core.actions import action
from mamori.tenancy.context import require_tenant


@action
def update_session_policy(*, actor: Actor, **fields: Any) -> SessionLimits:
    """Set the active tenant's idle timeout and absolute lifetime; fields left out keep their value.

    Applies at once to every open session (the middleware reads the policy on each request).
    """
    from mamori.accounts.models import SessionPolicy

    tenant = require_tenant()
    if actor.user is None or not can(actor.user, Perm.MANAGE_SECURITY):
        raise PermissionDenied(Perm.MANAGE_SECURITY, actor=actor)
    row = SessionPolicy.objects.select_for_update().filter(tenant_id=tenant.pk).first()
    current = session_policy_for_tenant(tenant)
    limits = clean_session_policy({**current.as_dict(), **{k: v for k, v in fields.items() if k in FIELDS}})
    if row is None:
        row = SessionPolicy(tenant=tenant)
    for name, value in limits.as_dict().items():
        setattr(row, name, value)
    row.save()
    before, after = diff(current.as_dict(), limits.as_dict())
    record_event("security.session_policy_updated", actor=actor,
                 target=("accounts.sessionpolicy", row.pk, "session policy"), before=before, after=after)
    return limits


@action
def end_all_sessions(*, actor: Actor) -> dict[str, int]:
    """Sign out every user of the active tenant at once (an admin's answer to a suspected
    compromise, ASVS 7.4.5): every session stamp rotates, so every console session ends on its
    next request, and the session rows go. The acting admin's own session ends too; the view
    keeps it (``update_session_auth_hash``). API and SCIM tokens are not sessions and stay
    (revoke them on the API tokens page)."""
    from mamori.accounts.models import User
    from mamori.accounts.sessions import delete_user_sessions

    if actor.user is None or not can(actor.user, Perm.MANAGE_SECURITY):
        raise PermissionDenied(Perm.MANAGE_SECURITY, actor=actor)
    users = list(User.objects.select_for_update().order_by("pk"))
    sessions = 0
    for user in users:
        user.rotate_session_stamp()
        sessions += delete_user_sessions(user)
    User.objects.bulk_update(users, ["session_stamp"], batch_size=500)
    summary = {"users": len(users), "sessions_ended": sessions}
    tenant = require_tenant()
    record_event("security.all_sessions_ended", actor=actor, target=("tenancy.tenant", tenant.pk, tenant.slug),
                 after=summary)
    return summary


@action
def end_own_session(*, actor: Actor, session_id: int, current_key: str | None = None) -> None:
    """End one of the actor's own sessions (another browser or device). Another user's session,
    or the current one (that is "sign out"), is 404."""
    from allauth.usersessions.models import UserSession

    from mamori.accounts.sessions import end_session_row

    require_tenant()
    if actor.user is None:
        raise NotFound("session")
    row = UserSession.objects.select_for_update().filter(pk=session_id, user_id=actor.user.pk).first()
    if row is None or (current_key and row.session_key == current_key):
        raise NotFound("session")
    before = {"ip": row.ip, "user_agent": row.user_agent[:200],
              "created_at": row.created_at.isoformat(timespec="seconds"),
              "last_seen_at": row.last_seen_at.isoformat(timespec="seconds")}
    end_session_row(row)
    record_event("user.session_ended", actor=actor, target=actor.user, before=before,
                 after={"ended_at": timezone.now().isoformat(timespec="seconds")})
