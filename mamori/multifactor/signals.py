"""allauth MFA signals into the tenant's audit log.

- ``mfa.authenticator_added`` / ``mfa.authenticator_removed`` — a user enrolled or
  removed a method (``after["type"]``: ``totp``, ``webauthn``, ``recovery_codes``).
- ``mfa.recovery_codes_regenerated`` — new recovery codes replaced the old ones.
- ``auth.mfa_succeeded`` — the second step of a sign-in (or a re-authentication,
  ``after["reauthenticated"]``) succeeded.
- ``auth.mfa_failed`` — a wrong, expired or replayed code was refused.

The admin reset is an action of its own (``mamori.multifactor.actions.reset_mfa``).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from allauth.core import context
from allauth.mfa import signals
from allauth.mfa.models import Authenticator
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mamori.audit.events import Actor, record_event
from mamori.tenancy.context import current_tenant

USER_TARGET = "accounts.user"


def _target(user) -> tuple[str, str, str]:
    return (USER_TARGET, str(user.pk), user.email)


def _actor(request, user) -> Actor:
    who = getattr(request, "user", None) if request is not None else None
    if who is not None and getattr(who, "is_authenticated", False):
        return Actor.for_user(who)
    return Actor.for_user(user)


# allauth sends authenticator_added/reset only after the commit (outside the request's
# tenant transaction, where nothing can be written under RLS), so additions and removals
# are recorded from the model's own signals, inside the same transaction.
_quiet: ContextVar[bool] = ContextVar("mamori_mfa_quiet", default=False)


@contextmanager
def quiet():
    """No per-method events (the admin reset writes one ``mfa.reset`` event instead)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _regenerating(request) -> bool:
    match = getattr(request, "resolver_match", None) if request is not None else None
    return match is not None and match.url_name == "mfa_generate_recovery_codes"


@receiver(post_save, sender=Authenticator)
def on_saved(sender, instance, created, **kwargs):
    if not created or _quiet.get() or current_tenant() is None:
        return
    request = context.request
    user = instance.user
    if instance.type == Authenticator.Type.TOTP and request is not None and request.method == "POST":
        # The code typed at enrolment cannot be used again to sign in.
        from mamori.multifactor.totp import claim_step

        claim_step(instance, request.POST.get("code", ""))
    action = "mfa.authenticator_added"
    if instance.type == Authenticator.Type.RECOVERY_CODES and _regenerating(request):
        action = "mfa.recovery_codes_regenerated"
    record_event(action, actor=_actor(request, user), target=_target(user),
                 after={"type": instance.type, "authenticator": instance.pk})


@receiver(post_delete, sender=Authenticator)
def on_deleted(sender, instance, **kwargs):
    if _quiet.get() or current_tenant() is None:
        return
    request = context.request
    if instance.type == Authenticator.Type.RECOVERY_CODES and _regenerating(request):
        return  # recorded as mfa.recovery_codes_regenerated
    user = instance.user
    record_event("mfa.authenticator_removed", actor=_actor(request, user), target=_target(user),
                 before={"type": instance.type})


@receiver(signals.authenticator_used)
def on_used(sender, request, user, authenticator, reauthenticated=False, passwordless=False, **kwargs):
    if current_tenant() is None:
        return
    record_event("auth.mfa_succeeded", actor=Actor.for_user(user), target=_target(user),
                 after={"type": authenticator.type, "reauthenticated": bool(reauthenticated),
                        "passwordless": bool(passwordless)})


@receiver(signals.authentication_failed)
def on_failed(sender, request, user, authenticator, reauthentication=False, **kwargs):
    if current_tenant() is None:
        return
    record_event("auth.mfa_failed", actor=Actor.for_user(user), target=_target(user),
                 after={"type": authenticator.type, "reauthentication": bool(reauthentication),
                        "reason": "invalid_code"})
