"""Mamori users and units ⇄ SCIM resources, and SCIM filters → ORM queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from scim2_models import InvalidFilterException, InvalidValueException, Meta
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ScimFilter,
    ValuePath,
)

from mamori.access.models import OrgUnit, UnitMembership
from mamori.accounts.models import User
from mamori.scim import schema
from mamori.scim.actions import UserData
from mamori.scim.models import ScimGroup, ScimUser

# --- Reading -----------------------------------------------------------------------


def _link(obj, model):
    try:
        return obj.scim_link
    except model.DoesNotExist:
        return None


def user_resource(user: User, base_url: str) -> schema.User:
    link = _link(user, ScimUser)
    attributes = link.attributes if link else {}
    emails = attributes.get("emails") or [{"value": user.email, "primary": True}]
    emails = [dict(item) for item in emails]
    # The primary (else the first) address is the sign-in address, whatever changed it.
    main = next((item for item in emails if item.get("primary")), emails[0])
    main["value"] = user.email
    shows_display_name = link is None or attributes.get("displayName", False)
    return schema.User.model_validate({
        "schemas": [schema.USER_SCHEMA],
        "id": str(user.pk),
        "externalId": (link.external_id or None) if link else None,
        "userName": link.user_name if link else user.email,
        "name": attributes.get("name") or None,
        "displayName": (user.name or None) if shows_display_name else None,
        "emails": emails,
        "active": user.is_active,
        "meta": Meta(resource_type="User", created=user.date_joined,
                     last_modified=link.updated_at if link else user.date_joined,
                     location=f"{base_url}/Users/{user.pk}"),
    })


def group_resource(unit: OrgUnit, base_url: str, *, member_ids: list[int] | None = None,
                   with_members: bool = True) -> schema.Group:
    link = _link(unit, ScimGroup)
    data: dict[str, Any] = {
        "schemas": [schema.GROUP_SCHEMA],
        "id": str(unit.pk),
        "externalId": (link.external_id or None) if link else None,
        "displayName": unit.name,
        "meta": Meta(resource_type="Group", created=unit.created_at,
                     last_modified=link.updated_at if link else unit.created_at,
                     location=f"{base_url}/Groups/{unit.pk}"),
    }
    if with_members:
        if member_ids is None:
            member_ids = sorted(UnitMembership.objects.filter(unit=unit).values_list("user_id", flat=True))
        data["members"] = [{"value": str(pk), "$ref": f"{base_url}/Users/{pk}", "type": "User"}
                           for pk in member_ids] or None
    return schema.Group.model_validate(data)


def member_map(units: list[OrgUnit]) -> dict[int, list[int]]:
    """Direct members of each unit of a page, in one query."""
    found: dict[int, list[int]] = {}
    rows = UnitMembership.objects.filter(unit__in=units).order_by("user_id").values_list("unit_id", "user_id")
    for unit_id, user_id in rows:
        found.setdefault(unit_id, []).append(user_id)
    return found


def user_queryset() -> QuerySet[User]:
    return User.objects.select_related("scim_link").order_by("pk")


def group_queryset() -> QuerySet[OrgUnit]:
    return OrgUnit.objects.select_related("scim_link").order_by("pk")


# --- Writing -----------------------------------------------------------------------


def user_data(resource: schema.User) -> UserData:
    """What a (validated) SCIM User asks Mamori to store."""
    dumped = resource.model_dump(exclude_none=True, by_alias=True, mode="json", scim_ctx=None)
    emails = [e for e in dumped.get("emails", []) if e.get("value")]
    main = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
    user_name = (resource.user_name or "").strip()
    email = main["value"] if main else (user_name if "@" in user_name else "")
    name_parts = dumped.get("name") or {}
    display = (resource.display_name or "").strip()
    derived = name_parts.get("formatted") or " ".join(
        p for p in (name_parts.get("givenName"), name_parts.get("familyName")) if p)
    attributes: dict[str, Any] = {}
    if name_parts:
        attributes["name"] = name_parts
    if emails:
        attributes["emails"] = emails
    if display:
        attributes["displayName"] = True
    return UserData(user_name=user_name, email=email.strip(), name=(display or derived or "").strip(),
                    external_id=(resource.external_id or "").strip(),
                    active=resource.active is not False, attributes=attributes)


def member_ids(resource: schema.Group) -> list[int]:
    ids = []
    for member in resource.members or []:
        if member.type not in (None, "User"):
            raise InvalidValueException(detail="Only users can be members of a group (no nested groups).")
        try:
            ids.append(int(member.value or ""))
        except ValueError:
            raise InvalidValueException(detail=f"Unknown member {member.value!r}.") from None
    return sorted(set(ids))


# --- Filters -----------------------------------------------------------------------

_STRING_LOOKUPS = {CompareOperator.eq: "exact", CompareOperator.co: "contains", CompareOperator.sw: "startswith",
                   CompareOperator.ew: "endswith", CompareOperator.gt: "gt", CompareOperator.ge: "gte",
                   CompareOperator.lt: "lt", CompareOperator.le: "lte"}


class _QueryBuilder(FilterVisitor[Q]):
    """A filter tree → ``Q``. ``fields`` maps a lower-cased attribute path to
    ``(ORM field, kind)``; kind is ``ci`` (case-insensitive string), ``ce``
    (case-exact string), ``bool``, ``id`` or ``member``."""

    def __init__(self, fields: dict[str, tuple[str, str]], fallback: dict[str, Q] | None = None):
        self.fields = fields
        self.fallback = fallback or {}

    def _field(self, path: AttrPath, prefix: str = "") -> tuple[str, str, str]:
        if path.uri and path.uri.lower() not in (schema.USER_SCHEMA.lower(), schema.GROUP_SCHEMA.lower()):
            raise InvalidFilterException(detail=f"Filtering on {path} is not supported.")
        key = (prefix + str(AttrPath(path.attr, path.sub_attr))).lower()
        if key not in self.fields:
            raise InvalidFilterException(detail=f"Filtering on {path} is not supported.")
        orm, kind = self.fields[key]
        return key, orm, kind

    def visit_comparison(self, node: Comparison, prefix: str = "") -> Q:
        key, orm, kind = self._field(node.attr_path, prefix)
        value, op = node.value, node.op
        if isinstance(value, str) and "\x00" in value:
            raise InvalidFilterException(detail="Filter values cannot contain NUL characters.")
        negate = op == CompareOperator.ne
        if negate:
            op = CompareOperator.eq
        if kind == "bool":
            if not isinstance(value, bool) or op != CompareOperator.eq:
                raise InvalidFilterException(detail=f"{node.attr_path} compares only with eq/ne true or false.")
            q = Q(**{orm: value})
        elif kind in ("id", "member"):
            if op != CompareOperator.eq:
                raise InvalidFilterException(detail=f"{node.attr_path} supports only eq and ne.")
            try:
                number = int(str(value))
            except ValueError:
                q = Q(pk__in=[])
            else:
                q = Q(**{orm: number}) if 0 < number < 2**63 else Q(pk__in=[])
        else:
            if not isinstance(value, str):
                raise InvalidFilterException(detail=f"{node.attr_path} compares with a string.")
            lookup = _STRING_LOOKUPS[op]
            if kind == "ci" and lookup in ("exact", "contains", "startswith", "endswith"):
                lookup = "i" + lookup
            q = Q(**{f"{orm}__{lookup}": value})
            if key in self.fallback:  # e.g. userName of a user SCIM never wrote: the e-mail
                fallback_field = self.fallback[key]
                q |= Q(**{"scim_link__isnull": True, f"{fallback_field}__{lookup}": value})
        return ~q if negate else q

    def visit_present(self, node: Present, prefix: str = "") -> Q:
        key, orm, kind = self._field(node.attr_path, prefix)
        if kind in ("bool", "id"):
            return Q(**{f"{orm}__isnull": False})
        if kind == "member":
            return Q(**{f"{orm}__isnull": False})
        q = Q(**{f"{orm}__isnull": False}) & ~Q(**{orm: ""})
        if key in self.fallback:
            q |= Q(scim_link__isnull=True)
        return q

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        result = self.visit(node.terms[0])
        for term in node.terms[1:]:
            result = result & self.visit(term) if node.op == LogicalOperator.and_ else result | self.visit(term)
        return result

    def visit_value_path(self, node: ValuePath) -> Q:
        prefix = node.attr_path.attr + "."
        return self._inner(node.val_filter, prefix)

    def _inner(self, node: FilterNode, prefix: str) -> Q:
        if isinstance(node, Comparison):
            return self.visit_comparison(node, prefix)
        if isinstance(node, Present):
            return self.visit_present(node, prefix)
        if isinstance(node, Not):
            return ~self._inner(node.expr, prefix)
        if isinstance(node, LogicalExpr):
            parts = [self._inner(term, prefix) for term in node.terms]
            result = parts[0]
            for part in parts[1:]:
                result = result & part if node.op == LogicalOperator.and_ else result | part
            return result
        raise InvalidFilterException(detail="Nested value filters are not supported.")


USER_FIELDS = {
    "id": ("pk", "id"),
    "username": ("scim_link__user_name", "ci"),
    "externalid": ("scim_link__external_id", "ce"),
    "displayname": ("name", "ci"),
    "emails": ("email", "ci"),
    "emails.value": ("email", "ci"),
    "active": ("is_active", "bool"),
}
USER_FALLBACK = {"username": "email"}
GROUP_FIELDS = {
    "id": ("pk", "id"),
    "displayname": ("name", "ci"),
    "externalid": ("scim_link__external_id", "ce"),
    "members": ("memberships__user_id", "member"),
    "members.value": ("memberships__user_id", "member"),
}


def filter_q(expression: str, resource: str) -> Q:
    """Parse a SCIM filter (RFC 7644 §3.4.2.2) into a ``Q``; InvalidFilterException if it is
    malformed or uses an attribute Mamori cannot filter on."""
    if len(expression) > 2000:
        raise InvalidFilterException(detail="The filter is too long.")
    tree = ScimFilter(expression).ast
    builder = (_QueryBuilder(USER_FIELDS, USER_FALLBACK) if resource == "User"
               else _QueryBuilder(GROUP_FIELDS))
    return builder.visit(tree)
