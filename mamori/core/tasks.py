"""Background tasks shared by every app (Django's tasks API, ``django-tasks`` backport).

Tasks are queued in the database (``django_tasks_db``) and run by ``mamori worker``
(``mamori serve`` starts one for you). Several workers may run at once: each
claims a task in its own transaction with ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL and an exclusive write lock on SQLite, so a task runs once.

Side effects of actions are queued with ``enqueue_*_on_commit``: nothing is
queued when the action's transaction rolls back, and the worker never sees a
task before the rows it refers to are committed.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django_tasks import task


@task()
def send_mail_task(*, subject: str, body: str, to: list[str], html: str = "",
                   from_email: str | None = None, reply_to: list[str] | None = None) -> int:
    """Send one e-mail through the configured backend (the local outbox by default)."""
    message = EmailMultiAlternatives(subject=subject, body=body, from_email=from_email,
                                     to=list(to), reply_to=list(reply_to or []))
    if html:
        message.attach_alternative(html, "text/html")
    return message.send(fail_silently=False)


def enqueue_mail_on_commit(*, subject: str, body: str, to: Sequence[str], html: str = "",
                           from_email: str | None = None,
                           reply_to: Sequence[str] | None = None) -> None:
    """Queue ``send_mail_task`` once the current transaction commits (at once in autocommit)."""
    kwargs = {
        "subject": str(subject),
        "body": str(body),
        "to": [str(address) for address in to],
        "html": str(html or ""),
        "from_email": from_email,
        "reply_to": [str(address) for address in (reply_to or [])],
    }
    if not kwargs["to"]:
        raise ValueError("enqueue_mail_on_commit needs at least one recipient")
    transaction.on_commit(lambda: send_mail_task.enqueue(**kwargs))
