"""State changes for users, sign-in links and API tokens.

Each function is one capability: it checks permission, changes the models and
writes its audit event in the same transaction. Views, API, CLI and tasks call
these and never save the models themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.models import OrgUnit, UnitMembership
from mamori.access.roles import UNIT_ADMIN_GRANTABLE_ROLES, Perm, Role, can
from mamori.access.scope import administered_unit_ids, can_assign_units, can_manage_user
from mamori.accounts import mail
from mamori.accounts.models import ApiToken, Invitation, LoginLink, User
from mamori.accounts.secrets import hash_secret, new_secret, secret_matches
from mamori.accounts.tokens import generate_token
from mamori.audit.events import Actor, diff, record_event, snapshot
from mamori.audit.models import ActorType
from mamori.core.actions import ACTIONS, action
from mamori.tenancy.context import require_tenant

USER_AUDIT_FIELDS = ["email", "name", "role", "is_active", "language"]
ADMIN_ROLES = (Role.TENANT_ADMIN, Role.UNIT_ADMIN)
LANGUAGES = ("", "ja", "en")

P = ParamSpec("P")
R = TypeVar("R")


class OutOfScope(NotFound):
    """A user the actor may not administer (outside a unit admin's units): 404 like any
    unknown user, and recorded as ``access.denied`` by ``@user_action``."""

    def __init__(self, actor: Actor, target_id: object, action_name: str = ""):
        super().__init__()
        self.actor = actor
        self.target_id = target_id
        self.action_name = action_name
        self.recorded = False


def record_out_of_scope(exc: OutOfScope, action_name: str) -> None:
    """Write the refusal in its own savepoint (the action's writes are already rolled back)."""
    from mamori.tenancy.context import current_tenant

    if exc.recorded or current_tenant() is None:
        return
    with transaction.atomic():
        record_event("access.denied", actor=exc.actor, target=("accounts.user", str(exc.target_id), ""),
                     after={"permission": str(Perm.MANAGE_USERS), "action": exc.action_name or action_name,
                            "reason": "out_of_scope"})
    exc.recorded = True


def _is_last_admin_refusal(exc: ValidationError) -> bool:
    errors = getattr(exc, "error_dict", {})
    return any(error.code == "last_admin" for field_errors in errors.values() for error in field_errors)


def _record_last_admin_refusal(actor, user, action_name: str) -> None:
    """Refusing to remove the last tenant admin is a refused privileged action: record it."""
    from mamori.tenancy.context import current_tenant

    if actor is None or current_tenant() is None:
        return
    pk = getattr(user, "pk", user)
    with transaction.atomic():
        record_event("access.denied", actor=actor, target=("accounts.user", str(pk), ""),
                     after={"permission": str(Perm.GRANT_ADMIN), "action": action_name, "reason": "last_admin"})


def user_action(fn: Callable[P, R]) -> Callable[P, R]:
    """``@action`` plus: an ``OutOfScope`` refusal (a 404) also leaves an audit event."""
    inner = action(fn)
    name = f"{fn.__module__}.{fn.__name__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return inner(*args, **kwargs)
        except OutOfScope as exc:
            record_out_of_scope(exc, name)
            raise
        except ValidationError as exc:
            if _is_last_admin_refusal(exc):
                _record_last_admin_refusal(kwargs.get("actor"), kwargs.get("user"), name)
            raise

    ACTIONS[name] = wrapper
    wrapper.is_action = True  # type: ignore[attr-defined]
    return wrapper


def require(actor: Actor, perm: str) -> None:
    """Raise PermissionDenied (``@action`` records it) unless the actor's user has ``perm``."""
    if actor.user is None or not can(actor.user, perm):
        raise PermissionDenied(perm, actor=actor)


@action
def create_user(*, actor: Actor, email: str, name: str = "", role: str = Role.VIEWER,
                password: str | None = None, unit_ids: Iterable[int] = (), language: str = "",
                bypass_permission: bool = False) -> User:
    """Create a user in the active tenant.

    With ``password`` the user must change it at first sign-in; without one the
    user has no usable password until a sign-in link or invitation sets it.
    ``bypass_permission`` is for provider-side bootstrap (tenant creation) only.
    """
    if bypass_permission:
        require_tenant()
        unit_list = _checked_units(None, unit_ids)
    else:
        unit_list = _check_new_user(actor, role=role, unit_ids=unit_ids)
    user = _new_user(email=email, name=name, role=role, language=language)
    if password:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages})
        user.set_password(password)
        user.must_change_password = True
    else:
        user.set_unusable_password()
    user.save()
    _set_units(user, unit_list)
    record_event("user.created", actor=actor, target=user, after=_user_snapshot(user))
    return user


@action
def issue_login_link(*, actor: Actor, user: User, hours: int | None = None) -> str:
    """Create a one-time sign-in link for ``user`` and return its URL path secret."""
    require_tenant()
    secret = new_secret()
    LoginLink.objects.filter(user=user, used_at__isnull=True).update(expires_at=timezone.now())
    LoginLink.objects.create(
        user=user,
        token_hash=hash_secret(secret),
        expires_at=timezone.now() + timedelta(hours=hours or settings.LOGIN_LINK_MAX_AGE_HOURS),
    )
    record_event("user.login_link_created", actor=actor, target=user)
    return secret


def login_link_url(tenant, secret: str) -> str:
    return f"{settings.BASE_URL}/t/{tenant.slug}/welcome/{secret}/"


@action
def consume_login_link(*, secret: str) -> User:
    """Mark a link used and return its user; NotFound if unknown, used or expired."""
    require_tenant()
    link = (
        LoginLink.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=hash_secret(secret))
        .first()
    )
    if (
        link is None
        or not secret_matches(secret, link.token_hash)
        or link.used_at is not None
        or link.expires_at <= timezone.now()
        or not link.user.is_active
    ):
        raise NotFound
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    record_event("user.login_link_used", actor=Actor.for_user(link.user), target=link.user)
    return link.user


@action
def set_password(*, actor: Actor, user: User, password: str) -> None:
    """Set a user's own password (after a sign-in link, or a forced change)."""
    require_tenant()
    if actor.user is None or actor.user.pk != user.pk:
        require(actor, Perm.MANAGE_USERS)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages})
    user.set_password(password)
    user.must_change_password = False
    # Every other session ends; a view that keeps the current one calls update_session_auth_hash.
    user.rotate_session_stamp()
    user.save(update_fields=["password", "must_change_password", "session_stamp"])
    record_event("user.password_set", actor=actor, target=user, after={"password": "changed"})


@action
def create_api_token(*, actor: Actor, user: User, name: str,
                     expires_in_days: int | None = 90,
                     issued_by_cli: bool = False) -> tuple[ApiToken, str]:
    """Create a personal API token; returns the row and the token, shown once.

    ``issued_by_cli`` is the provider's automation path (``mamori token create``):
    only the system actor may use it, and the audit event says so.
    """
    tenant = require_tenant()
    if issued_by_cli:
        if actor.type != ActorType.SYSTEM or actor.user is not None:
            raise PermissionDenied(Perm.USE_API, actor=actor)
    elif actor.user is None or (actor.user.pk != user.pk and not can(actor.user, Perm.MANAGE_USERS)):
        require(actor, Perm.MANAGE_USERS)
    if actor.user is not None and actor.user.pk == user.pk:
        # Creating one's own token is the api.use permission (viewers do not have it).
        require(actor, Perm.USE_API)
    elif not can(user, Perm.VIEW_RECORDS):
        # An admin (or the provider's CLI) may give a read-only integration token to any
        # user who can read records; the token never has more rights than its user.
        raise PermissionDenied(Perm.USE_API, actor=actor)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name.")})
    if len(name) > 100:
        raise ValidationError({"name": _("At most 100 characters.")})
    if expires_in_days is not None and not 1 <= expires_in_days <= 366:
        raise ValidationError({"expires_in_days": _("Choose between 1 and 366 days.")})
    raw, prefix, secret_hash = generate_token(tenant.pk)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    record_event("api_token.created", actor=actor, target=token,
                 after={"name": name, "prefix": prefix, "user": user.email,
                        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                        **({"issued_by": "cli"} if issued_by_cli else {})})
    return token, raw


@action
def revoke_api_token(*, actor: Actor, token_id: int) -> ApiToken:
    require_tenant()
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None:
        raise NotFound
    if actor.user is None or (token.user_id != actor.user.pk and not can(actor.user, Perm.MANAGE_USERS)):
        raise NotFound
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event("api_token.revoked", actor=actor, target=token, after={"prefix": token.prefix})
    return token


# --- User lifecycle: invitations, changes, suspension, deletion, sessions ---------------------


def _user_snapshot(user: User) -> dict:
    return {**snapshot(user, USER_AUDIT_FIELDS), "units": _unit_ids(user)}


def _unit_ids(user: User) -> list[int]:
    if user.pk is None:
        return []
    return sorted(UnitMembership.objects.filter(user=user).values_list("unit_id", flat=True))


def _checked_units(actor_user, unit_ids: Iterable[int] | None) -> list[int]:
    try:
        ids = sorted({int(pk) for pk in (unit_ids or ())})
    except (TypeError, ValueError):
        raise ValidationError({"unit_ids": _("Unknown organizational unit.")}) from None
    if ids and OrgUnit.objects.filter(pk__in=ids).count() != len(ids):
        raise ValidationError({"unit_ids": _("Unknown organizational unit.")})
    return ids


def _check_grantable(actor: Actor, role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if role in ADMIN_ROLES or role not in UNIT_ADMIN_GRANTABLE_ROLES:
        require(actor, Perm.GRANT_ADMIN)


def _check_assignable(actor: Actor, ids: list[int]) -> None:
    if not can_assign_units(actor.user, ids):
        raise PermissionDenied(Perm.MANAGE_USERS, _("You can only assign units you administer."), actor=actor)


def _check_new_user(actor: Actor, *, role: str, unit_ids: Iterable[int]) -> list[int]:
    """Permission, role and units for a new user; returns the unit ids."""
    require_tenant()
    require(actor, Perm.MANAGE_USERS)
    _check_grantable(actor, role)
    ids = _checked_units(actor.user, unit_ids)
    _check_assignable(actor, ids)
    if administered_unit_ids(actor.user) is not None and not ids:
        raise ValidationError({"unit_ids": _("Choose at least one of the units you administer.")})
    return ids


def _new_user(*, email: str, name: str, role: str, language: str) -> User:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if language not in LANGUAGES:
        raise ValidationError({"language": _("Unknown language.")})
    if len((name or "").strip()) > 150:
        raise ValidationError({"name": _("At most 150 characters.")})
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("A user with this e-mail address already exists.")})
    return User(tenant=require_tenant(), email=email, name=(name or "").strip(), role=role, language=language)


def _set_units(user: User, ids: list[int], *, keep: set[int] | None = None) -> None:
    """Make ``ids`` the user's units; memberships outside the actor's scope (``keep``) stay."""
    current = set(_unit_ids(user))
    wanted = set(ids) | (current & keep if keep else set())
    UnitMembership.objects.filter(user=user, unit_id__in=current - wanted).delete()
    UnitMembership.objects.bulk_create(
        [UnitMembership(tenant=user.tenant, user=user, unit_id=pk) for pk in sorted(wanted - current)])


def _target(actor: Actor, user: User | int, *, name: str, lock: bool = True) -> User:
    """The user ``actor`` may administer, freshly read (and locked): PermissionDenied without
    users.manage, OutOfScope (404) outside a unit admin's units or for another tenant's user,
    PermissionDenied for one's own account (admin paths never act on oneself)."""
    require_tenant()
    require(actor, Perm.MANAGE_USERS)
    pk = user.pk if isinstance(user, User) else user
    target = User.objects.filter(pk=pk).first()
    if target is None or not can_manage_user(actor.user, target):
        raise OutOfScope(actor, pk, name)
    if lock:
        if target.role == Role.TENANT_ADMIN:
            # Lock every tenant admin row in one order before the target, so two admins
            # acting on each other queue up instead of deadlocking (see _guard_last_admin).
            list(User.objects.select_for_update().filter(role=Role.TENANT_ADMIN).order_by("pk")
                 .values_list("pk", flat=True))
        target = User.objects.select_for_update().get(pk=pk)
    if target.pk == actor.user.pk:
        raise PermissionDenied(Perm.MANAGE_USERS, _("You cannot do this to your own account."), actor=actor)
    if target.role in ADMIN_ROLES:
        require(actor, Perm.GRANT_ADMIN)
    return target


def _guard_last_admin(target: User, field: str) -> None:
    """Refuse to leave the tenant without an active tenant admin. Locks every active
    admin row, so two admins removing each other at once cannot both succeed."""
    if target.role != Role.TENANT_ADMIN or not target.is_active:
        return
    admins = list(User.objects.select_for_update().filter(role=Role.TENANT_ADMIN, is_active=True)
                  .order_by("pk").values_list("pk", flat=True))
    if not [pk for pk in admins if pk != target.pk]:
        raise ValidationError({field: ValidationError(
            _("This is the last active tenant admin: make another user tenant admin first."), code="last_admin")})


def _end_sessions(user: User) -> None:
    user.rotate_session_stamp()
    user.save(update_fields=["session_stamp"])
    _delete_sessions(user)


def _delete_sessions(user: User) -> None:
    """After the stamp rotated (which already invalidates every session): also drop the
    sessions' data and their rows in the user-sessions list. A view that keeps the current
    session (``update_session_auth_hash``) re-creates it under a new key."""
    from mamori.accounts.sessions import delete_user_sessions

    delete_user_sessions(user)


def _revoke_tokens(user: User) -> int:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def _pending_invitations(user: User):
    return Invitation.objects.filter(user=user, accepted_at__isnull=True, revoked_at__isnull=True)


def _new_invitation(actor: Actor, user: User) -> tuple[Invitation, str]:
    secret = new_secret()
    invitation = Invitation.objects.create(
        user=user, token_hash=hash_secret(secret), invited_by=actor.user,
        expires_at=timezone.now() + timedelta(hours=settings.INVITATION_MAX_AGE_HOURS),
    )
    mail.send_invitation(user, secret=secret, invited_by=actor.user or user, expires_at=invitation.expires_at)
    return invitation, secret


@action
def invite_user(*, actor: Actor, email: str, name: str = "", role: str = Role.VIEWER,
                unit_ids: Iterable[int] = (), language: str = "") -> Invitation:
    """Create a user in the invited state and e-mail them a one-time registration link.

    The secret (256 bits) only ever exists in the mail; the row stores its SHA-256.
    """
    ids = _check_new_user(actor, role=role, unit_ids=unit_ids)
    user = _new_user(email=email, name=name, role=role, language=language)
    user.set_unusable_password()
    user.save()
    _set_units(user, ids)
    invitation, _secret = _new_invitation(actor, user)
    record_event("user.invited", actor=actor, target=user,
                 after={**_user_snapshot(user), "expires_at": invitation.expires_at.isoformat()})
    return invitation


def _invited_target(actor: Actor, user: User | int, name: str) -> User:
    target = _target(actor, user, name=name)
    if not target.is_invited:
        raise ValidationError({"invitation": _("This user has already registered.")})
    return target


@user_action
def resend_invitation(*, actor: Actor, user: User | int) -> Invitation:
    """A new link with a fresh expiry; every earlier link of the user stops working."""
    target = _invited_target(actor, user, "resend_invitation")
    revoked = _pending_invitations(target).update(revoked_at=timezone.now())
    invitation, _secret = _new_invitation(actor, target)
    record_event("user.invitation_resent", actor=actor, target=target,
                 after={"revoked": revoked, "expires_at": invitation.expires_at.isoformat()})
    return invitation


@user_action
def cancel_invitation(*, actor: Actor, user: User | int) -> None:
    """Revoke the user's links; the never-registered user is removed."""
    target = _invited_target(actor, user, "cancel_invitation")
    before = _user_snapshot(target)
    _pending_invitations(target).update(revoked_at=timezone.now())
    record_event("user.invitation_cancelled", actor=actor, target=target, before=before,
                 after={"user_deleted": True})
    target.delete()


def find_invitation(secret: str) -> Invitation:
    """The pending invitation for ``secret`` (read only): NotFound if unknown, used,
    revoked, expired or its user is no longer invited."""
    require_tenant()
    invitation = Invitation.objects.select_related("user").filter(token_hash=hash_secret(secret or "")).first()
    if (
        invitation is None
        or not secret_matches(secret, invitation.token_hash)
        or not invitation.is_pending
        or not invitation.user.is_active
        or not invitation.user.is_invited
    ):
        raise NotFound
    return invitation


@action
def accept_invitation(*, secret: str, password: str, name: str | None = None) -> User:
    """Use an invitation once: set the password (tenant policy applies) and the name."""
    require_tenant()
    candidate = find_invitation(secret)
    invitation = Invitation.objects.select_for_update().select_related("user").get(pk=candidate.pk)
    user = User.objects.select_for_update().get(pk=invitation.user_id)
    if not invitation.is_pending or not user.is_invited or not user.is_active:
        raise NotFound
    if name is not None:
        name = name.strip()
        if len(name) > 150:
            raise ValidationError({"name": _("At most 150 characters.")})
        user.name = name
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    user.must_change_password = False
    user.rotate_session_stamp()
    user.save(update_fields=["password", "must_change_password", "name", "session_stamp"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    _pending_invitations(user).update(revoked_at=timezone.now())
    record_event("user.registered", actor=Actor.for_user(user), target=user,
                 after={"name": user.name, "password": "set"})
    return user


@user_action
def update_user(*, actor: Actor, user: User | int, name: str | None = None, role: str | None = None,
                unit_ids: Iterable[int] | None = None, language: str | None = None) -> User:
    """Change name, language, units and role. ``None`` keeps a value. A role change
    ends the user's sessions; demoting the last tenant admin is refused."""
    target = _target(actor, user, name="update_user")
    before = _user_snapshot(target)
    if name is not None:
        name = name.strip()
        if len(name) > 150:
            raise ValidationError({"name": _("At most 150 characters.")})
        target.name = name
    if language is not None:
        if language not in LANGUAGES:
            raise ValidationError({"language": _("Unknown language.")})
        target.language = language
    role_changed = role is not None and role != target.role
    if role_changed:
        _check_grantable(actor, role)
        if target.role == Role.TENANT_ADMIN:
            _guard_last_admin(target, "role")
        target.role = role
        target.rotate_session_stamp()
    target.save(update_fields=["name", "language", "role", "session_stamp"])
    if role_changed:
        _delete_sessions(target)
    if unit_ids is not None:
        ids = _checked_units(actor.user, unit_ids)
        scope = administered_unit_ids(actor.user)
        _check_assignable(actor, ids)
        if scope is not None and not ids and not (set(before["units"]) - scope):
            raise ValidationError({"unit_ids": _("Choose at least one of the units you administer.")})
        outside = None if scope is None else set(before["units"]) - scope
        _set_units(target, ids, keep=outside)
    after = _user_snapshot(target)
    old, new = diff(before, after)
    if role_changed:
        # Unit-admin assignments end with the role, so granting it again later never
        # silently revives an old scope.
        ended_scopes = []
        if before["role"] == Role.UNIT_ADMIN:
            from mamori.access.models import UnitAdminScope

            scopes = UnitAdminScope.objects.filter(user=target)
            ended_scopes = sorted(scopes.values_list("unit_id", flat=True))
            scopes.delete()
        record_event("user.role_changed", actor=actor, target=target,
                     before={"role": before["role"], **({"admin_of_units": ended_scopes} if ended_scopes else {})},
                     after={"role": after["role"], "sessions_ended": True})
        old.pop("role", None)
        new.pop("role", None)
    if new:
        record_event("user.updated", actor=actor, target=target, before=old, after=new)
    return target


@user_action
def suspend_user(*, actor: Actor, user: User | int) -> User:
    """Block sign-in, end every session and revoke every API token at once."""
    target = _target(actor, user, name="suspend_user")
    if not target.is_active:
        return target
    _guard_last_admin(target, "is_active")
    target.is_active = False
    target.rotate_session_stamp()
    target.save(update_fields=["is_active", "session_stamp"])
    _delete_sessions(target)
    revoked = _revoke_tokens(target)
    _pending_invitations(target).update(revoked_at=timezone.now())
    record_event("user.suspended", actor=actor, target=target, before={"is_active": True},
                 after={"is_active": False, "sessions_ended": True, "api_access_revoked": revoked})
    if not target.is_invited:
        mail.send_account_suspended(target)
    return target


@user_action
def reactivate_user(*, actor: Actor, user: User | int) -> User:
    """Allow sign-in again (revoked tokens stay revoked; invitations must be re-sent)."""
    target = _target(actor, user, name="reactivate_user")
    if target.is_active:
        return target
    target.is_active = True
    target.save(update_fields=["is_active"])
    record_event("user.reactivated", actor=actor, target=target, before={"is_active": False},
                 after={"is_active": True})
    return target


@user_action
def delete_user(*, actor: Actor, user: User | int) -> None:
    """Remove the user: sessions and API tokens end with the row. Their audit trail stays."""
    target = _target(actor, user, name="delete_user")
    _guard_last_admin(target, "user")
    before = _user_snapshot(target)
    revoked = _revoke_tokens(target)
    record_event("user.deleted", actor=actor, target=target, before=before,
                 after={"sessions_ended": True, "api_access_revoked": revoked})
    target.delete()


@user_action
def end_sessions(*, actor: Actor, user: User | int) -> User:
    """"Sign out everywhere": every session of the user ends (their own included when
    they do it themselves; API tokens are not sessions and stay)."""
    require_tenant()
    pk = user.pk if isinstance(user, User) else user
    if actor.user is not None and actor.user.pk == pk:
        target = User.objects.select_for_update().get(pk=pk)
    else:
        target = _target(actor, user, name="end_sessions")
    _end_sessions(target)
    record_event("user.sessions_ended", actor=actor, target=target, after={"sessions_ended": True})
    return target


@action
def change_password(*, actor: Actor, user: User, current_password: str, password: str) -> User:
    """The user's own change: the current password is required; every session ends
    (the view keeps the current one with ``update_session_auth_hash``)."""
    require_tenant()
    if actor.user is None or actor.user.pk != user.pk:
        raise PermissionDenied(Perm.MANAGE_USERS, actor=actor)
    target = User.objects.select_for_update().get(pk=user.pk)
    if not current_password or not target.check_password(current_password):
        raise ValidationError({"current_password": _("Your current password is not correct.")})
    if current_password == password:
        raise ValidationError({"password": _("Choose a password different from the current one.")})
    try:
        password_validation.validate_password(password, target)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    target.set_password(password)
    target.must_change_password = False
    target.rotate_session_stamp()
    target.save(update_fields=["password", "must_change_password", "session_stamp"])
    record_event("user.password_changed", actor=actor, target=target,
                 after={"password": "changed", "sessions_ended": True})
    mail.send_password_changed(target)
    return target
