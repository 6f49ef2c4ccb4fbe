"""Changing the tenant's password policy (ISMS 9.2.4)."""

from __future__ import annotations

from typing import Any

from mamori.access.errors import PermissionDenied
from mamori.access.roles import Perm, can
from mamori.accounts.models import PasswordHistory, PasswordPolicy
from mamori.accounts.policy import FIELDS, Policy, clean_policy, policy_for_tenant
from mamori.audit.events import Actor, diff, record_event
from mamori.core.actions import action
from mamori.tenancy.context import require_tenant


@action
def update_password_policy(*, actor: Actor, **fields: Any) -> Policy:
    """Set the active tenant's password policy; fields left out keep their current value.

    The whole resulting policy is checked (``clean_policy``: field-level messages).
    The event carries the changed settings before and after. Turning the history
    off removes the stored hashes of previous passwords.
    """
    tenant = require_tenant()
    if actor.user is None or not can(actor.user, Perm.MANAGE_SECURITY):
        raise PermissionDenied(Perm.MANAGE_SECURITY, actor=actor)
    row = PasswordPolicy.objects.select_for_update().filter(tenant_id=tenant.pk).first()
    current = policy_for_tenant(tenant)
    policy = clean_policy({**current.as_dict(), **fields})
    if row is None:
        row = PasswordPolicy(tenant=tenant)
    values = policy.as_dict()
    for name in FIELDS:
        setattr(row, name, values[name])
    row.save()
    if policy.history_count == 0:
        PasswordHistory.objects.all().delete()
    before, after = diff(current.as_dict(), values)
    record_event("security.password_policy_updated", actor=actor,
                 target=("accounts.passwordpolicy", row.pk, "password policy"), before=before, after=after)
    return policy
