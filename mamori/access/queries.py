"""Tenant-scoped reads for organizational units, narrowed by what the user administers.

A tenant admin sees every unit; a unit admin sees the units assigned to them and
their descendants (``mamori.access.scope``); everyone else sees none. ``access_unit``
raises ``NotFound`` for a unit the user may not see, whether it is missing, in
another tenant or outside the user's scope (404, never 403).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from mamori.access.errors import NotFound, object_id
from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.roles import Perm, can
from mamori.access.scope import administered_unit_ids, descendant_unit_ids

# Organization → group → … : at most this many levels (a root unit is level 1).
MAX_UNIT_DEPTH = 8


def visible_unit_ids(user) -> set[int] | None:
    """Ids of the units ``user`` may see; ``None`` means all of them."""
    if can(user, Perm.MANAGE_UNITS):
        return None
    return administered_unit_ids(user)


def visible_units(user) -> QuerySet[OrgUnit]:
    ids = visible_unit_ids(user)
    if ids is None:
        return OrgUnit.objects.all()
    return OrgUnit.objects.filter(pk__in=ids)


def access_unit(user, unit_id) -> OrgUnit:
    unit = visible_units(user).filter(pk=object_id(unit_id)).first()
    if unit is None:
        raise NotFound
    return unit


def parent_map() -> dict[int, int | None]:
    """Every unit of the tenant and its parent, in one query."""
    return dict(OrgUnit.objects.values_list("pk", "parent_id"))


def unit_depth(unit_id: int | None, parents: dict[int, int | None] | None = None) -> int:
    """Level of a unit (root = 1); 0 for "no unit" (the top of the tree)."""
    parents = parent_map() if parents is None else parents
    depth, seen = 0, set()
    while unit_id is not None and unit_id not in seen:
        seen.add(unit_id)
        depth += 1
        unit_id = parents.get(unit_id)
    return depth


def subtree_height(unit_id: int, parents: dict[int, int | None] | None = None) -> int:
    """Levels in the subtree rooted at ``unit_id`` (a leaf = 1)."""
    parents = parent_map() if parents is None else parents
    children: dict[int | None, list[int]] = {}
    for pk, parent in parents.items():
        children.setdefault(parent, []).append(pk)
    height, level = 0, [unit_id]
    seen: set[int] = set()
    while level:
        height += 1
        seen.update(level)
        level = [c for pk in level for c in children.get(pk, ()) if c not in seen]
    return height


def unit_paths(units: list[OrgUnit] | None = None) -> dict[int, str]:
    """Full path of every unit, like "Acme / Sales / Tokyo"."""
    rows = {pk: (name, parent) for pk, name, parent in OrgUnit.objects.values_list("pk", "name", "parent_id")}
    paths: dict[int, str] = {}

    def path(pk: int, guard: int = 0) -> str:
        if pk in paths:
            return paths[pk]
        name, parent = rows[pk]
        result = name if parent is None or parent not in rows or guard > MAX_UNIT_DEPTH * 2 else (
            f"{path(parent, guard + 1)} / {name}")
        paths[pk] = result
        return result

    for pk in rows:
        path(pk)
    return paths


@dataclass
class UnitNode:
    unit: OrgUnit
    depth: int  # 0 for the roots of what the user sees
    path: str
    members: int  # direct members
    members_total: int  # distinct users in the unit and all its descendants
    admins: list = field(default_factory=list)
    children: int = 0


def unit_tree(user) -> list[UnitNode]:
    """The units ``user`` may see, depth first, each with member counts and unit admins.

    A unit whose parent is outside what the user sees is shown as a root (a unit
    admin sees the subtrees they administer). A fixed number of queries, whatever
    the size of the tree.
    """
    units = list(visible_units(user).order_by("name", "id"))
    if not units:
        return []
    ids = {u.pk for u in units}
    direct = dict(
        UnitMembership.objects.filter(unit_id__in=ids).values("unit_id").annotate(n=Count("id"))
        .values_list("unit_id", "n")
    )
    members_by_unit: dict[int, set[int]] = {}
    for unit_id, user_id in UnitMembership.objects.filter(unit_id__in=ids).values_list("unit_id", "user_id"):
        members_by_unit.setdefault(unit_id, set()).add(user_id)
    admins: dict[int, list] = {}
    for scope in UnitAdminScope.objects.filter(unit_id__in=ids).select_related("user").order_by("user__email"):
        admins.setdefault(scope.unit_id, []).append(scope.user)
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in ids else None
        children.setdefault(parent, []).append(unit)
    paths = unit_paths()

    nodes: list[UnitNode] = []

    def walk(unit: OrgUnit, depth: int) -> set[int]:
        node = UnitNode(unit=unit, depth=depth, path=paths.get(unit.pk, unit.name),
                        members=direct.get(unit.pk, 0), members_total=0, admins=admins.get(unit.pk, []),
                        children=len(children.get(unit.pk, [])))
        nodes.append(node)
        everyone = set(members_by_unit.get(unit.pk, ()))
        if depth < MAX_UNIT_DEPTH * 2:
            for child in children.get(unit.pk, []):
                everyone |= walk(child, depth + 1)
        node.members_total = len(everyone)
        return everyone

    for root in children.get(None, []):
        walk(root, 0)
    return nodes


def unit_members(user, unit_id, *, include_descendants: bool = False):
    """Users of a unit the user may see (optionally with the users of its descendants)."""
    from mamori.accounts.models import User

    unit = access_unit(user, unit_id)
    unit_ids = descendant_unit_ids([unit.pk]) if include_descendants else {unit.pk}
    member_ids = UnitMembership.objects.filter(unit_id__in=unit_ids).values("user_id")
    return User.objects.filter(pk__in=member_ids).order_by("email")


def unit_admins(user, unit_id):
    """Users assigned to administer a unit (the unit itself; its ancestors' admins also reach it)."""
    from mamori.accounts.models import User

    unit = access_unit(user, unit_id)
    return User.objects.filter(admin_scopes__unit=unit).order_by("email")


def direct_member_ids(unit: OrgUnit) -> set[int]:
    return set(UnitMembership.objects.filter(unit=unit).values_list("user_id", flat=True))


def admin_scopes(unit: OrgUnit) -> QuerySet[UnitAdminScope]:
    """Unit admins assigned to this unit itself."""
    return UnitAdminScope.objects.filter(unit=unit).select_related("user").order_by("user__email")


def inherited_admin_scopes(unit: OrgUnit) -> QuerySet[UnitAdminScope]:
    """Unit admins who reach this unit through one of its ancestors."""
    parents = parent_map()
    ancestors: list[int] = []
    current = parents.get(unit.pk)
    while current is not None and current not in ancestors:
        ancestors.append(current)
        current = parents.get(current)
    return (UnitAdminScope.objects.filter(unit_id__in=ancestors).select_related("user", "unit")
            .order_by("user__email"))


def member_candidates(user, unit: OrgUnit, *, limit: int = 500):
    """Active users ``user`` may add to ``unit``: anyone for a tenant admin; for a unit admin,
    the non-admin users they already manage."""
    from mamori.access.roles import Role
    from mamori.access.scope import manageable_users
    from mamori.accounts.models import User

    if can(user, Perm.MANAGE_UNITS):
        qs = User.objects.all()
    else:
        qs = manageable_users(user).exclude(role__in=[Role.TENANT_ADMIN, Role.UNIT_ADMIN])
    existing = UnitMembership.objects.filter(unit=unit).values("user_id")
    return qs.filter(is_active=True).exclude(pk__in=existing).order_by("email")[:limit]


def admin_candidates(unit: OrgUnit):
    """Active users with the unit admin role not yet assigned to ``unit``."""
    from mamori.access.roles import Role
    from mamori.accounts.models import User

    existing = UnitAdminScope.objects.filter(unit=unit).values("user_id")
    return (User.objects.filter(role=Role.UNIT_ADMIN, is_active=True).exclude(pk__in=existing)
            .order_by("email"))


def units_of_user(user_id: int) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(memberships__user_id=user_id).order_by("name", "id")
