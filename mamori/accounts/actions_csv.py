"""Applying a CSV user import (9.2.1): all rows or none, in one transaction.

``apply_user_import`` checks the file again (``mamori.accounts.csv_users.preview``) and,
only when no row has an error, writes every change with bulk statements, so 10,000
rows take seconds. It writes the same audit events as the one-user actions in
``mamori.accounts.actions`` — ``user.invited`` for each created user,
``user.role_changed`` / ``user.updated`` for each changed user, ``user.suspended`` for
each deactivated user — and one ``users.imported`` summary. Invitation secrets are
stored as SHA-256 only (``mamori.accounts.secrets``), and their mails, like the
suspension notices, are queued only when the transaction commits
(``mamori.accounts.mail``), so a failed import sends nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.models import UnitMembership
from mamori.access.roles import Perm, Role
from mamori.accounts import mail
from mamori.accounts.actions import USER_AUDIT_FIELDS, require
from mamori.accounts.csv_users import CREATE, DEACTIVATE, UNCHANGED, UPDATE, Preview, preview
from mamori.accounts.models import ApiToken, Invitation, User
from mamori.accounts.secrets import hash_secret, new_secret
from mamori.audit.events import Actor, record_event, record_events, snapshot
from mamori.core.actions import action
from mamori.tenancy.context import require_tenant

BATCH = 1000


class ImportRejected(ValidationError):
    """The file has errors; ``preview`` holds them per row. Nothing was written."""

    def __init__(self, result: Preview):
        first = result.errors[0] if result.errors else None
        message = _("The file has %(count)d error(s); nothing was imported.") % {"count": len(result.errors)}
        super().__init__({"file": [message] + ([str(first.message)] if first else [])})
        self.preview = result


@dataclass
class ImportResult:
    created: int
    updated: int
    deactivated: int
    unchanged: int
    preview: Preview

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "deactivated": self.deactivated,
                "unchanged": self.unchanged}


def _save_each(users: list[User], fields: list[str]) -> None:
    """UPDATE ``fields`` of each user by primary key with one executemany per batch.

    ``bulk_update`` builds a CASE expression per field and row, which takes seconds for
    10,000 users; a prepared statement run once per row is an order of magnitude faster.
    The users were read (and locked) in this transaction from the active tenant, and the
    statement is also bound to that tenant.
    """
    if not users:
        return
    meta = User._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name).column for name in fields]
    # Identifiers come from the model's metadata (quoted); every value is a parameter.
    sql = (f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{quote(c)} = %s' for c in columns)} "  # noqa: S608
           f"WHERE {quote(meta.pk.column)} = %s AND {quote(meta.get_field('tenant').column)} = %s")
    with connection.cursor() as cursor:
        for chunk in _chunks(users):
            cursor.executemany(sql, [[getattr(u, name) for name in fields] + [u.pk, u.tenant_id] for u in chunk])


def _chunks(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start:start + size]


@action
def apply_user_import(*, actor: Actor, data: bytes) -> ImportResult:
    """Create, update and deactivate users from CSV ``data``; all rows or none."""
    tenant = require_tenant()
    require(actor, Perm.MANAGE_USERS)
    # Serialise with other admin changes: the last-admin check below must see a stable set.
    list(User.objects.select_for_update().filter(role=Role.TENANT_ADMIN, is_active=True).values_list("pk"))
    result = preview(actor_user=actor.user, data=data)
    if not result.ok:
        raise ImportRejected(result)
    by_action: dict[str, list] = {CREATE: [], UPDATE: [], DEACTIVATE: [], UNCHANGED: []}
    for row in result.rows:
        by_action[row.action].append(row)
    try:
        with transaction.atomic():
            _create(actor, tenant, by_action[CREATE])
            _update(actor, tenant, by_action[UPDATE])
            _deactivate(actor, by_action[DEACTIVATE])
    except IntegrityError:
        raise ValidationError({"file": _("Users changed while the file was being imported. "
                                         "Check the preview again and apply it.")}) from None
    outcome = ImportResult(created=len(by_action[CREATE]), updated=len(by_action[UPDATE]),
                           deactivated=len(by_action[DEACTIVATE]), unchanged=len(by_action[UNCHANGED]),
                           preview=result)
    record_event("users.imported", actor=actor, after={
        **outcome.as_dict(), "rows": len(result.rows), "encoding": result.encoding,
        "sha256": hashlib.sha256(data).hexdigest(),
    })
    return outcome


def _create(actor: Actor, tenant, rows) -> None:
    if not rows:
        return
    users = [User(tenant=tenant, email=row.email, name=row.name, role=row.role, language=row.language,
                  password=make_password(None)) for row in rows]
    User.objects.bulk_create(users, batch_size=BATCH)
    memberships = [UnitMembership(tenant=tenant, user_id=user.pk, unit_id=unit_id)
                   for user, row in zip(users, rows, strict=True) for unit_id in sorted(row.unit_ids or ())]
    UnitMembership.objects.bulk_create(memberships, batch_size=BATCH)
    expires_at = timezone.now() + timedelta(hours=settings.INVITATION_MAX_AGE_HOURS)
    secrets = [new_secret() for _user in users]
    Invitation.objects.bulk_create(
        [Invitation(tenant=tenant, user_id=user.pk, token_hash=hash_secret(secret), invited_by=actor.user,
                    expires_at=expires_at) for user, secret in zip(users, secrets, strict=True)],
        batch_size=BATCH)
    record_events("user.invited", actor=actor, items=[
        {"target": user, "after": {**snapshot(user, USER_AUDIT_FIELDS), "units": sorted(row.unit_ids or ()),
                                   "expires_at": expires_at.isoformat()}}
        for user, row in zip(users, rows, strict=True)
    ])
    for user, secret in zip(users, secrets, strict=True):
        mail.send_invitation(user, secret=secret, invited_by=actor.user or user, expires_at=expires_at)


def _locked(rows) -> dict[int, User]:
    ids = [row.user_id for row in rows]
    found: dict[int, User] = {}
    for chunk in _chunks(ids):
        found.update((u.pk, u) for u in User.objects.select_for_update().filter(pk__in=chunk))
    if len(found) != len(ids):
        raise IntegrityError("a user of the import disappeared")
    return found


def _update(actor: Actor, tenant, rows) -> None:
    if not rows:
        return
    users = _locked(rows)
    current: dict[int, set[int]] = {}
    membership_ids: dict[tuple[int, int], int] = {}
    for chunk in _chunks(list(users)):
        for pk, user_id, unit_id in UnitMembership.objects.filter(user_id__in=chunk).values_list(
                "pk", "user_id", "unit_id"):
            current.setdefault(user_id, set()).add(unit_id)
            membership_ids[(user_id, unit_id)] = pk
    role_events, update_events, to_save = [], [], []
    remove: list[int] = []
    add: list[UnitMembership] = []
    for row in rows:
        user = users[row.user_id]
        before_units = sorted(current.get(user.pk, set()))
        old: dict = {}
        new: dict = {}
        for field in ("name", "language"):
            if field in row.changes and getattr(user, field) != getattr(row, field):
                old[field], new[field] = getattr(user, field), getattr(row, field)
                setattr(user, field, getattr(row, field))
        if "role" in row.changes and user.role != row.role:
            role_events.append({"target": user, "before": {"role": user.role},
                                "after": {"role": row.role, "sessions_ended": True}})
            user.role = row.role
            user.rotate_session_stamp()
        if row.unit_ids is not None and set(before_units) != row.unit_ids:
            after_units = sorted(row.unit_ids)
            old["units"], new["units"] = before_units, after_units
            remove += [membership_ids[(user.pk, unit_id)] for unit_id in set(before_units) - row.unit_ids]
            add += [UnitMembership(tenant=tenant, user_id=user.pk, unit_id=unit_id)
                    for unit_id in sorted(row.unit_ids - set(before_units))]
        if new:
            update_events.append({"target": user, "before": old, "after": new})
        to_save.append(user)
    _save_each(to_save, ["name", "language", "role", "session_stamp"])
    for chunk in _chunks(remove):
        UnitMembership.objects.filter(pk__in=chunk).delete()
    UnitMembership.objects.bulk_create(add, batch_size=BATCH)
    if role_events:
        record_events("user.role_changed", actor=actor, items=role_events)
    if update_events:
        record_events("user.updated", actor=actor, items=update_events)


def _deactivate(actor: Actor, rows) -> None:
    if not rows:
        return
    users = _locked(rows)
    ids = list(users)
    now = timezone.now()
    tokens: dict[int, int] = {}
    for chunk in _chunks(ids):
        live = ApiToken.objects.filter(user_id__in=chunk, revoked_at__isnull=True)
        tokens.update(live.values("user_id").annotate(n=Count("id")).values_list("user_id", "n"))
        live.update(revoked_at=now)
        Invitation.objects.filter(user_id__in=chunk, accepted_at__isnull=True,
                                  revoked_at__isnull=True).update(revoked_at=now)
    for user in users.values():
        user.is_active = False
        user.rotate_session_stamp()
    _save_each(list(users.values()), ["is_active", "session_stamp"])
    record_events("user.suspended", actor=actor, items=[
        {"target": users[row.user_id], "before": {"is_active": True},
         "after": {"is_active": False, "sessions_ended": True, "tokens_revoked": tokens.get(row.user_id, 0)}}
        for row in rows
    ])
    for row in rows:
        user = users[row.user_id]
        if not user.is_invited:
            mail.send_account_suspended(user)
