"""State changes for users, sign-in links and API tokens.

Each function is one capability: it checks permission, changes the models and
writes its audit event in the same transaction. Views, API, CLI and tasks call
these and never save the models themselves.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Perm, Role, can
from mamori.accounts.models import ApiToken, LoginLink, User
from mamori.accounts.secrets import hash_secret, new_secret, secret_matches
from mamori.accounts.tokens import generate_token
from mamori.audit.events import Actor, record_event, snapshot
from mamori.audit.models import ActorType
from mamori.core.actions import action
from mamori.tenancy.context import require_tenant

USER_AUDIT_FIELDS = ["email", "name", "role", "is_active", "language"]


def require(actor: Actor, perm: str) -> None:
    """Raise PermissionDenied (``@action`` records it) unless the actor's user has ``perm``."""
    if actor.user is None or not can(actor.user, perm):
        raise PermissionDenied(perm, actor=actor)


@action
def create_user(*, actor: Actor, email: str, name: str = "", role: str = Role.VIEWER,
                password: str | None = None, bypass_permission: bool = False) -> User:
    """Create a user in the active tenant.

    With ``password`` the user must change it at first sign-in; without one the
    user has no usable password until a sign-in link or invitation sets it.
    ``bypass_permission`` is for provider-side bootstrap (tenant creation) only.
    """
    tenant = require_tenant()
    if not bypass_permission:
        require(actor, Perm.MANAGE_USERS)
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")})
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("A user with this e-mail address already exists.")})
    user = User(tenant=tenant, email=email, name=name.strip(), role=role)
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
    record_event("user.created", actor=actor, target=user, after=snapshot(user, USER_AUDIT_FIELDS))
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
    user.save(update_fields=["password", "must_change_password"])
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
    if not can(user, Perm.USE_API) and not can(user, Perm.VIEW_RECORDS):
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
