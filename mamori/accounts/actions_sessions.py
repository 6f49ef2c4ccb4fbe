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
