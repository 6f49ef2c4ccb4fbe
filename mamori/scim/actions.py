"""SCIM tokens and provisioning, as audited actions.

Provisioning calls the same actions as the console (``mamori.accounts.actions``:
create_user, update_user, suspend_user, reactivate_user, delete_user;
``mamori.access.actions``: create_unit, update_unit, set_unit_members, delete_unit),
so the password policy, the last-admin guard, scopes and their audit events all
apply. The acting SCIM client is ``Actor(type="scim")`` carrying a
``ScimPrincipal``: a tenant-admin-equivalent principal that belongs to no user
(so it can deprovision any account, admins included, but never the last admin),
and whose new users get the token's default role (never an admin role). What only
SCIM knows (``userName``, ``externalId``, name parts, e-mail types) is kept in
``ScimUser``/``ScimGroup`` and changed here with its own events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access import actions as unit_actions
from mamori.access.errors import NotFound, object_id
from mamori.access.models import OrgUnit, UnitMembership
from mamori.access.roles import Perm, Role
from mamori.accounts import actions as account_actions
from mamori.accounts.actions import require, user_action
from mamori.accounts.models import User
from mamori.audit.events import Actor, record_event
from mamori.audit.models import ActorType
from mamori.core.actions import action
from mamori.scim.models import SCIM_DEFAULT_ROLES, ScimGroup, ScimToken, ScimUser
from mamori.scim.tokens import generate_scim_token
from mamori.tenancy.context import require_tenant

MAX_TOKEN_DAYS = 730


@dataclass(frozen=True)
class ScimPrincipal:
    """The acting "user" the account and access actions see for a SCIM token."""

    token_id: int
    default_role: str = Role.VIEWER
    pk: None = None
    email: str = ""
    role: str = Role.TENANT_ADMIN
    is_active: bool = True
    is_authenticated: bool = True


def scim_actor(token: ScimToken) -> Actor:
    return Actor(ActorType.SCIM, str(token.pk), f"SCIM: {token.name} ({token.prefix})",
                 ScimPrincipal(token.pk, token.default_role))


def _principal(actor: Actor) -> ScimPrincipal:
    if actor.type != ActorType.SCIM or not isinstance(actor.user, ScimPrincipal):
        raise NotFound
    return actor.user


# --- Tokens -------------------------------------------------------------------------


@action
def create_scim_token(*, actor: Actor, name: str, expires_in_days: int | None = None,
                      default_role: str = Role.VIEWER) -> tuple[ScimToken, str]:
    """Issue a SCIM token (security.manage); returns the row and the token, shown once."""
    tenant = require_tenant()
    require(actor, Perm.MANAGE_SECURITY)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name.")})
    if len(name) > 100:
        raise ValidationError({"name": _("At most 100 characters.")})
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationError({"expires_in_days": _("Choose between 1 and %(n)d days.") % {"n": MAX_TOKEN_DAYS}})
    if default_role not in SCIM_DEFAULT_ROLES:
        raise ValidationError({"default_role": _("Choose viewer, reviewer or editor.")})
    raw, prefix, secret_hash = generate_scim_token(tenant.pk)
    token = ScimToken.objects.create(
        name=name, prefix=prefix, secret_hash=secret_hash, default_role=default_role,
        created_by=actor.user if isinstance(actor.user, User) else None,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    record_event("scim.token_created", actor=actor, target=token,
                 after={"name": name, "prefix": prefix, "default_role": default_role,
                        "expires_at": token.expires_at.isoformat() if token.expires_at else None})
    return token, raw


@action
def revoke_scim_token(*, actor: Actor, token_id: int) -> ScimToken:
    require_tenant()
    require(actor, Perm.MANAGE_SECURITY)
    token = ScimToken.objects.select_for_update().filter(pk=object_id(token_id)).first()
    if token is None:
        raise NotFound
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event("scim.token_revoked", actor=actor, target=token, after={"prefix": token.prefix})
    return token


@action
def record_auth_failure(*, prefix: str, reason: str) -> None:
    """A refused SCIM token (unknown key id, wrong secret, revoked, expired) in the tenant it claims."""
    require_tenant()
    record_event("scim.auth_failed", actor=Actor.anonymous(f"SCIM token {prefix}"),
                 target=("scim.scimtoken", "", prefix), after={"reason": reason})


@action
def record_refusal(*, actor: Actor, method: str, path: str, status: int, scim_type: str = "",
                   detail: str = "") -> None:
    """A SCIM request refused with a 4xx error (invalid filter, schema, value, uniqueness…)."""
    require_tenant()
    record_event("scim.request_refused", actor=actor,
                 after={"method": method, "path": path[:200], "status": status, "scim_type": scim_type,
                        "detail": detail[:300]})


# --- Users --------------------------------------------------------------------------


@dataclass
class UserData:
    """A SCIM User as Mamori stores it (built by ``mamori.scim.resources``)."""

    user_name: str
    email: str
    name: str = ""
    external_id: str = ""
    active: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)


def _uniqueness(attribute: str, message: str) -> ValidationError:
    return ValidationError({attribute: ValidationError(message, code="uniqueness")})


def _check_user_data(data: UserData, *, exclude_user: int | None = None) -> None:
    user_name = (data.user_name or "").strip()
    if not user_name or len(user_name) > 254:
        raise ValidationError({"userName": _("userName is required (at most 254 characters).")})
    try:
        validate_email(data.email)
    except ValidationError:
        raise ValidationError({"emails": _("A valid e-mail address is required.")}) from None
    if len(data.external_id) > 255:
        raise ValidationError({"externalId": _("At most 255 characters.")})
    taken = ScimUser.objects.filter(user_name__iexact=user_name).exclude(user_id=exclude_user).exists() or (
        User.objects.filter(email__iexact=user_name, scim_link__isnull=True).exclude(pk=exclude_user).exists())
    if taken:
        raise _uniqueness("userName", _("Another user already has this userName."))
    if User.objects.filter(email__iexact=data.email).exclude(pk=exclude_user).exists():
        raise _uniqueness("emails", _("A user with this e-mail address already exists."))


@action
def provision_user(*, actor: Actor, data: UserData) -> User:
    """Create a user from SCIM, with the token's default role."""
    principal = _principal(actor)
    _check_user_data(data)
    user = account_actions.create_user(actor=actor, email=data.email, name=data.name,
                                       role=principal.default_role)
    ScimUser.objects.create(user=user, user_name=data.user_name.strip(), external_id=data.external_id,
                            attributes=data.attributes)
    record_event("scim.user_provisioned", actor=actor, target=user,
                 after={"userName": data.user_name, "externalId": data.external_id, "role": user.role})
    if not data.active:
        user = account_actions.suspend_user(actor=actor, user=user.pk)
    return user


@user_action
def update_provisioned_user(*, actor: Actor, user: int, data: UserData) -> User:
    """Make a user what a SCIM PUT or PATCH describes: name, e-mail, active, SCIM attributes.

    ``@user_action``: refusing to suspend the last tenant admin is recorded after the rollback."""
    _principal(actor)
    user = User.objects.select_for_update().filter(pk=object_id(user)).first()
    if user is None:
        raise NotFound
    _check_user_data(data, exclude_user=user.pk)
    link = ScimUser.objects.filter(user=user).first()
    before = {"userName": link.user_name if link else user.email, "externalId": link.external_id if link else "",
              "email": user.email}
    if data.email != user.email:
        user.email = data.email
        user.save(update_fields=["email"])
    if link is None:
        link = ScimUser(user=user)
    link.user_name, link.external_id, link.attributes = data.user_name.strip(), data.external_id, data.attributes
    link.save()
    after = {"userName": link.user_name, "externalId": link.external_id, "email": user.email}
    changed = [key for key in after if before[key] != after[key]]
    if changed:
        record_event("scim.user_changed", actor=actor, target=user,
                     before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    if data.active and not user.is_active:
        account_actions.reactivate_user(actor=actor, user=user.pk)
    if data.name != user.name:
        account_actions.update_user(actor=actor, user=user.pk, name=data.name)
    if not data.active and user.is_active:
        account_actions.suspend_user(actor=actor, user=user.pk)
    return User.objects.get(pk=user.pk)


@user_action
def deprovision_user(*, actor: Actor, user: int) -> None:
    """SCIM DELETE: the account is deleted (the last tenant admin cannot be; the refusal is
    recorded after this action's rollback by ``@user_action``)."""
    _principal(actor)
    account_actions.delete_user(actor=actor, user=object_id(user))


# --- Groups (organizational units) --------------------------------------------------


def _check_group(display_name: str, external_id: str, *, exclude_unit: int | None = None,
                 parent_id: int | None = None) -> str:
    display_name = (display_name or "").strip()
    if not display_name:
        raise ValidationError({"displayName": _("displayName is required.")})
    if len(external_id) > 255:
        raise ValidationError({"externalId": _("At most 255 characters.")})
    if OrgUnit.objects.filter(parent_id=parent_id, name=display_name).exclude(pk=exclude_unit).exists():
        raise _uniqueness("displayName", _("A unit with this name already exists at this place in the tree."))
    return display_name


def _set_members(actor: Actor, unit: OrgUnit, member_ids: list[int] | None) -> None:
    if member_ids is None:
        return
    try:
        unit_actions.set_unit_members(actor=actor, unit_id=unit.pk, user_ids=member_ids)
    except NotFound:
        raise ValidationError({"members": _("Unknown or suspended user among the members.")}) from None


@action
def provision_group(*, actor: Actor, display_name: str, external_id: str = "",
                    member_ids: list[int] | None = None) -> OrgUnit:
    """SCIM POST /Groups: a new top-level organizational unit with its members."""
    _principal(actor)
    name = _check_group(display_name, external_id)
    unit = unit_actions.create_unit(actor=actor, name=name)
    ScimGroup.objects.create(unit=unit, external_id=external_id)
    record_event("scim.group_provisioned", actor=actor, target=unit, after={"externalId": external_id})
    _set_members(actor, unit, member_ids)
    return unit


@action
def update_provisioned_group(*, actor: Actor, unit_id: int, display_name: str, external_id: str = "",
                             member_ids: list[int] | None = None) -> OrgUnit:
    """SCIM PUT/PATCH of a Group: rename the unit, set its externalId and its direct members."""
    _principal(actor)
    unit = OrgUnit.objects.filter(pk=object_id(unit_id)).first()
    if unit is None:
        raise NotFound
    name = _check_group(display_name, external_id, exclude_unit=unit.pk, parent_id=unit.parent_id)
    if name != unit.name:
        unit = unit_actions.update_unit(actor=actor, unit_id=unit.pk, name=name)
    link = ScimGroup.objects.filter(unit=unit).first()
    before = link.external_id if link else ""
    if before != external_id:
        if link is None:
            link = ScimGroup(unit=unit)
        link.external_id = external_id
        link.save()
        record_event("scim.group_changed", actor=actor, target=unit,
                     before={"externalId": before}, after={"externalId": external_id})
    _set_members(actor, unit, member_ids)
    return unit


@action
def deprovision_group(*, actor: Actor, unit_id: int) -> None:
    """SCIM DELETE of a Group: its members leave it, then the unit is deleted (a unit with
    sub-units is refused: move or delete them in the console first)."""
    _principal(actor)
    unit = OrgUnit.objects.filter(pk=object_id(unit_id)).first()
    if unit is None:
        raise NotFound
    if unit.children.exists():
        raise ValidationError({"members": ValidationError(
            _("This unit has sub-units. Move or delete them first."), code="mutability")})
    if UnitMembership.objects.filter(unit=unit).exists():
        unit_actions.set_unit_members(actor=actor, unit_id=unit.pk, user_ids=[])
    unit_actions.delete_unit(actor=actor, unit_id=unit.pk)
