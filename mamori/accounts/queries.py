"""Tenant-scoped reads of users for the console and the API.

A tenant admin sees every user; a unit admin only the users of the units they
administer (and of their descendants), never an admin. Anyone else lacks
``users.view`` and is refused. A user outside the caller's reach is NotFound
(404), never "forbidden", and a unit admin's attempt leaves an ``access.denied``
event.
"""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from mamori.access.errors import PermissionDenied
from mamori.access.models import OrgUnit, UnitMembership
from mamori.access.roles import Perm, Role, can
from mamori.access.scope import (
    administered_unit_ids,
    can_manage_user,
    descendant_unit_ids,
    manageable_users,
)
from mamori.accounts.actions import OutOfScope, record_out_of_scope
from mamori.accounts.models import ApiToken, Invitation, User
from mamori.audit.events import Actor

STATUSES = ("invited", "active", "suspended")
# Invited: never signed in and no usable password yet (User.is_invited, as a query).
INVITED = Q(last_login__isnull=True, password__startswith=UNUSABLE_PASSWORD_PREFIX)


def visible_users(actor_user) -> QuerySet[User]:
    if not can(actor_user, Perm.VIEW_USERS):
        raise PermissionDenied(Perm.VIEW_USERS)
    if administered_unit_ids(actor_user) is None or not can(actor_user, Perm.MANAGE_USERS):
        return User.objects.all()
    return manageable_users(actor_user).exclude(role__in=(Role.TENANT_ADMIN, Role.UNIT_ADMIN))


def user_list(actor_user, *, status: str = "", role: str = "", unit: int | None = None) -> QuerySet[User]:
    """Users the actor may see, filtered; each with ``units`` prefetched and ``has_pending_invitation``."""
    users = visible_users(actor_user)
    if status == "invited":
        users = users.filter(INVITED, is_active=True)
    elif status == "active":
        users = users.filter(is_active=True).exclude(INVITED)
    elif status == "suspended":
        users = users.filter(is_active=False)
    if role:
        users = users.filter(role=role)
    if unit:
        users = users.filter(pk__in=UnitMembership.objects.filter(unit_id__in=descendant_unit_ids([unit]))
                             .values("user_id"))
    pending = Invitation.objects.filter(user=OuterRef("pk"), accepted_at__isnull=True, revoked_at__isnull=True,
                                        expires_at__gt=timezone.now())
    return (users.annotate(has_pending_invitation=Exists(pending))
            .prefetch_related(Prefetch("unit_memberships",
                                       queryset=UnitMembership.objects.select_related("unit").order_by("unit__name")))
            .order_by("email", "id"))


def status_of(user: User) -> str:
    if not user.is_active:
        return "suspended"
    return "invited" if user.is_invited else "active"


def access_user(actor_user, user_id: int, *, actor: Actor | None = None) -> User:
    """One user the actor may see: PermissionDenied without users.view; NotFound if absent,
    in another tenant or outside a unit admin's reach (that refusal is recorded)."""
    users = visible_users(actor_user)
    user = users.filter(pk=user_id).first()
    if user is None:
        exc = OutOfScope(actor or Actor.for_user(actor_user), user_id, "view_user")
        if administered_unit_ids(actor_user) is not None:
            record_out_of_scope(exc, "view_user")
        raise exc
    return user


def can_manage(actor_user, user: User) -> bool:
    """May ``actor_user`` run admin actions on ``user`` (not on themselves)?"""
    return (can(actor_user, Perm.MANAGE_USERS) and actor_user.pk != user.pk
            and can_manage_user(actor_user, user)
            and (user.role not in (Role.TENANT_ADMIN, Role.UNIT_ADMIN) or can(actor_user, Perm.GRANT_ADMIN)))


def assignable_units(actor_user) -> QuerySet[OrgUnit]:
    scope = administered_unit_ids(actor_user)
    units = OrgUnit.objects.order_by("name", "id")
    return units if scope is None else units.filter(pk__in=scope)


def grantable_roles(actor_user) -> list[tuple[str, str]]:
    from mamori.access.roles import UNIT_ADMIN_GRANTABLE_ROLES

    if can(actor_user, Perm.GRANT_ADMIN):
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if value in UNIT_ADMIN_GRANTABLE_ROLES]


def pending_invitation(user: User) -> Invitation | None:
    return (Invitation.objects.filter(user=user, accepted_at__isnull=True, revoked_at__isnull=True)
            .order_by("-created_at", "-id").first())


def user_tokens(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def user_units(user: User) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(memberships__user=user).order_by("name", "id")
