"""Actions around sign-in history (reading it is a query; exporting it leaves a trace)."""

from __future__ import annotations

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.audit.events import Actor, record_event
from mamori.core.actions import action
from mamori.tenancy.context import require_tenant


@action
def record_signin_export(*, actor: Actor, filters: dict[str, str]) -> None:
    """Record that ``actor`` downloaded the sign-in history as CSV, with the filters used."""
    require_tenant()
    if actor.user is None or not can(actor.user, Perm.VIEW_SIGNINS):
        raise PermissionDenied(Perm.VIEW_SIGNINS, actor=actor)
    record_event("signins.exported", actor=actor, target=("accounts.signins", "", "sign-in history"),
                 after={"filters": {k: v for k, v in filters.items() if v}})
