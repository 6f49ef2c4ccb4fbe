"""Background work of the notices app (run by ``mamori worker``)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django_tasks import task

from mamori.notices.models import Notice


@task()
def deliver_notice_task(*, notice_id: int, purpose: str, revision: int) -> str:
    """Mail one notice (announcement, update, reminder or cancellation) to its tenants' contacts."""
    from mamori.notices.delivery import deliver

    counts = deliver(notice_id, purpose, revision)
    return f"sent={counts['sent']} failed={counts['failed']} skipped={counts['skipped']}"


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue the 24-hour reminder of every published maintenance that starts within a day."""
    from mamori.notices.actions import REMINDER_BEFORE, send_reminder

    now = now or timezone.now()
    due = (Notice.objects.filter(state=Notice.State.PUBLISHED, kind=Notice.Kind.MAINTENANCE,
                                 reminder_sent_at__isnull=True, starts_at__gt=now,
                                 starts_at__lte=now + REMINDER_BEFORE)
           .order_by("starts_at", "pk").values_list("pk", flat=True))
    return sum(1 for pk in list(due) if send_reminder(notice_id=pk, now=now) is not None)


@task()
def notice_reminders_task() -> int:
    """The periodic job (every 15 minutes): maintenance reminders 24 h ahead."""
    return send_due_reminders()
