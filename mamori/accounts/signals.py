"""Sign-in events into the tenant's audit log.

These hooks only record what allauth and Django's auth already did; they write
no other state. They run inside the request's transaction.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from mamori.audit.events import Actor, record_event
from mamori.tenancy.context import current_tenant


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    if current_tenant() is None:
        return
    method = getattr(request, "_mamori_login_method", "password") if request is not None else "password"
    record_event("auth.login", actor=Actor.for_user(user), target=user, after={"method": method})


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if current_tenant() is None or user is None:
        return
    record_event("auth.logout", actor=Actor.for_user(user), target=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    if current_tenant() is None:
        return
    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    record_event("auth.login_failed", actor=Actor.anonymous(email), target=("accounts.user", "", email))
