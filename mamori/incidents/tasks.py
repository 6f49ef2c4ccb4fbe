"""Background work of the incidents app: mailing a notice, and the deadline watch (every
5 minutes, registered in ``IncidentsConfig.ready``)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import task

logger = logging.getLogger("mamori.incidents")


@task()
def deliver_incident_notice(*, update_id: int) -> dict:
    """Send every e-mail delivery of the notice ``update_id`` that has not been attempted yet,
    one message per contact, and record each result (``record_delivery``)."""
    from mamori.incidents.actions import record_delivery
    from mamori.incidents.models import Delivery
    from mamori.incidents.notify import send_notice

    sent = failed = 0
    pending = (Delivery.objects.filter(update_id=update_id, channel=Delivery.Channel.EMAIL, sent_at__isnull=True,
                                       error="")
               .select_related("update__incident", "affected__tenant").order_by("pk"))
    for delivery in pending:
        try:
            send_notice(delivery)
        except Exception as exc:  # any transport error is recorded on the delivery, not raised
            logger.warning("incident notice to %s failed: %s", delivery.address, exc)
            record_delivery(delivery=delivery, sent_at=None, error=f"{type(exc).__name__}: {exc}"[:500] or "error")
            failed += 1
        else:
            record_delivery(delivery=delivery, sent_at=timezone.now())
            sent += 1
    return {"sent": sent, "failed": failed}


def check_deadlines(now=None) -> dict:
    """Warn the security officers ``MAMORI_INCIDENT_WARN_MINUTES`` before a first-notice deadline
    and flag each overdue one (each once per tenant and incident)."""
    from mamori.incidents.actions import flag_deadline
    from mamori.incidents.queries import due_for_warning, due_overdue

    now = now or timezone.now()
    warned = sum(flag_deadline(affected=row, kind="warning", now=now)
                 for row in due_for_warning(now, settings.MAMORI_INCIDENT_WARN_MINUTES))
    overdue = sum(flag_deadline(affected=row, kind="overdue", now=now) for row in due_overdue(now))
    return {"warned": warned, "overdue": overdue}


@task()
def check_deadlines_task() -> dict:
    return check_deadlines()
