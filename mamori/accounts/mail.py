"""Mails to users, in the recipient's language, sent after the action commits.

Each mail is a pair of templates under ``accounts/email/``: ``<name>_subject.txt``
and ``<name>_body.txt``, rendered with the recipient's language active (the
user's own, else the tenant's). Sending goes through ``enqueue_mail_on_commit``:
nothing leaves when the action's transaction rolls back, and the configured
Django backend (SMTP, or the local outbox by default) does the delivery.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from mamori.core.tasks import enqueue_mail_on_commit


def recipient_language(user) -> str:
    language = getattr(user, "language", "") or getattr(getattr(user, "tenant", None), "language", "")
    return language or settings.LANGUAGE_CODE


def render_mail(name: str, user, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of mail ``name`` for ``user``, in the user's language."""
    context = {"user": user, "tenant": user.tenant, **context}
    with translation.override(recipient_language(user)):
        subject = render_to_string(f"accounts/email/{name}_subject.txt", context)
        body = render_to_string(f"accounts/email/{name}_body.txt", context)
    subject = " ".join(subject.split())
    return f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", body


def send_user_mail(name: str, user, **context: Any) -> None:
    subject, body = render_mail(name, user, context)
    enqueue_mail_on_commit(subject=subject, body=body, to=[user.email])


def tenant_url(tenant, path: str) -> str:
    return f"{settings.BASE_URL}/t/{tenant.slug}/{path.lstrip('/')}"


def send_invitation(user, *, secret: str, invited_by, expires_at) -> None:
    send_user_mail("invitation", user, url=tenant_url(user.tenant, f"invitation/{secret}/"),
                   invited_by=invited_by, expires_at=expires_at,
                   hours=settings.INVITATION_MAX_AGE_HOURS)


def send_password_changed(user) -> None:
    send_user_mail("password_changed", user, reset_url=tenant_url(user.tenant, "accounts/password/reset/"))


def send_account_suspended(user) -> None:
    send_user_mail("account_suspended", user)
