"""Who may administer whom: the tenant admin everyone, a unit admin the users of
their assigned units and of those units' descendants.

Every user-management action and query asks these functions, so the unit admin
boundary is enforced in one place. Users outside the boundary are simply not
found (404), never "forbidden", so their existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Iterable

from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.roles import Perm, Role, can


def descendant_unit_ids(unit_ids: Iterable[int]) -> set[int]:
    """The given units and every unit below them (one query for the tenant's tree)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in OrgUnit.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    result: set[int] = set()
    stack = list(unit_ids)
    while stack:
        pk = stack.pop()
        if pk in result:
            continue
        result.add(pk)
        stack.extend(children.get(pk, ()))
    return result


def administered_unit_ids(user) -> set[int] | None:
    """Units ``user`` administers; ``None`` means all of them (tenant admin)."""
    if user is None or not can(user, Perm.MANAGE_USERS):
        return set()
    if user.role == Role.TENANT_ADMIN:
        return None
    assigned = UnitAdminScope.objects.filter(user=user).values_list("unit_id", flat=True)
    return descendant_unit_ids(assigned)


def manageable_users(user):
    """The users ``user`` may manage, as a queryset (empty without the permission)."""
    from mamori.accounts.models import User

    units = administered_unit_ids(user)
    if units is None:
        return User.objects.all()
    if not units:
        return User.objects.none()
    member_ids = UnitMembership.objects.filter(unit_id__in=units).values("user_id")
    return User.objects.filter(pk__in=member_ids)


def can_manage_user(actor_user, target) -> bool:
    """True if ``actor_user`` may act on ``target``. A unit admin never acts on
    an admin (tenant or unit admin) nor on themselves through admin paths."""
    units = administered_unit_ids(actor_user)
    if units is None:
        return True
    if not units or target.role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN):
        return False
    return UnitMembership.objects.filter(user=target, unit_id__in=units).exists()


def can_assign_units(actor_user, unit_ids: Iterable[int]) -> bool:
    """A unit admin may only place users in units inside their own scope."""
    units = administered_unit_ids(actor_user)
    if units is None:
        return True
    return set(unit_ids) <= units
