"""Contract termination: grace period, reminders and the due purges (CLD.8.1.5, 11.2.7).

The flow (docs/termination.md):

1. A tenant admin (console, with a fresh re-authentication and the tenant's slug typed as
   confirmation; or the API with the password) or the provider (console, ``mamori termination
   terminate``) terminates the contract: ``actions_termination.request_termination`` /
   ``terminate_tenant``. The tenant becomes ``terminating``; the grace period is the provider
   default ``MAMORI_TERMINATION_GRACE_DAYS`` or the tenant's override (``TerminationPolicy``).
2. During the grace period only admins may sign in, read-only, to export
   (``mamori.lifecycle.middleware``). Reminders go to the admins at
   ``MAMORI_TERMINATION_REMINDER_DAYS`` days before the end. The provider may cancel.
3. When the period ends, the periodic job (``run_due``) purges the tenant
   (``mamori.lifecycle.purge``) and issues the signed deletion certificate.

This module holds the reads and the job; every change goes through
``mamori.lifecycle.actions_termination``.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_tasks import task

from mamori.lifecycle.models import DeletionCertificate, Termination, TerminationPolicy
from mamori.tenancy.models import Tenant

logger = logging.getLogger("mamori.lifecycle")
State = Termination.State


def default_grace_days() -> int:
    return max(0, int(getattr(settings, "MAMORI_TERMINATION_GRACE_DAYS", 30)))


def grace_days_for(tenant: Tenant) -> int:
    """The tenant's grace period: the provider's override for it, else the default."""
    override = TerminationPolicy.objects.filter(tenant_id=tenant.pk).values_list("grace_days", flat=True).first()
    return default_grace_days() if override is None else int(override)


def grace_override(tenant: Tenant) -> int | None:
    return TerminationPolicy.objects.filter(tenant_id=tenant.pk).values_list("grace_days", flat=True).first()


def reminder_days() -> list[int]:
    """``MAMORI_TERMINATION_REMINDER_DAYS`` as positive integers, largest first (bad entries ignored)."""
    days = set()
    for item in getattr(settings, "MAMORI_TERMINATION_REMINDER_DAYS", ["14", "7", "1"]):
        try:
            value = int(str(item).strip())
        except ValueError:
            continue
        if value > 0:
            days.add(value)
    return sorted(days, reverse=True)


def open_termination(tenant: Tenant) -> Termination | None:
    """The scheduled or running termination of ``tenant``, if any."""
    return Termination.objects.filter(tenant_id=tenant.pk, state__in=Termination.OPEN_STATES).first()


def latest_termination(tenant: Tenant) -> Termination | None:
    return Termination.objects.filter(tenant_id=tenant.pk).order_by("-requested_at", "-id").first()


def terminations():
    return Termination.objects.select_related("tenant").order_by("-requested_at", "-id")


def certificates():
    return DeletionCertificate.objects.order_by("-issued_at", "-id")


def days_left(termination: Termination, now: datetime | None = None) -> int:
    """Whole days until the end of the grace period, rounded up (0 once it has ended)."""
    seconds = (termination.ends_at - (now or timezone.now())).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def due_reminder(termination: Termination, now: datetime | None = None) -> int | None:
    """The reminder (days before the end) to send now, or None.

    Only the closest one is sent when several are due at once (e.g. a 5-day grace period
    sends the 1-day reminder only when 1 day is left, not 14 and 7 together); a reminder
    whose day was longer than the whole grace period is skipped.
    """
    if termination.state != State.SCHEDULED:
        return None
    left = days_left(termination, now)
    if left <= 0:
        return None
    sent = set(termination.reminders_sent or [])
    due = [d for d in reminder_days() if left <= d < termination.grace_days and d not in sent]
    return min(due) if due else None


def render_tenant_mail(name: str, tenant: Tenant, context: dict) -> tuple[str, str]:
    """(subject, body) of ``lifecycle/email/<name>_{subject,body}.txt`` in the tenant's language."""
    context = {"tenant": tenant, "provider_name": settings.PROVIDER_NAME, **context}
    with translation.override(tenant.language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"lifecycle/email/{name}_subject.txt", context)
        body = render_to_string(f"lifecycle/email/{name}_body.txt", context)
    return f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{' '.join(subject.split())}", body


def tenant_console_url(tenant: Tenant, path: str = "") -> str:
    return f"{settings.BASE_URL}/t/{tenant.slug}/{path.lstrip('/')}"


# --- The periodic job ------------------------------------------------------------------------

def send_reminders(now: datetime | None = None) -> int:
    """Mail every due reminder; returns how many terminations were reminded."""
    from mamori.lifecycle.actions_termination import send_termination_reminder

    now = now or timezone.now()
    sent = 0
    for termination in Termination.objects.filter(state=State.SCHEDULED, ends_at__gt=now).order_by("pk"):
        days = due_reminder(termination, now)
        if days is not None:
            send_termination_reminder(termination=termination, days=days, now=now)
            sent += 1
    return sent


def due_terminations(now: datetime | None = None):
    """Terminations whose grace period has ended (or whose purge was interrupted)."""
    now = now or timezone.now()
    return (Termination.objects.filter(state=State.SCHEDULED, ends_at__lte=now)
            | Termination.objects.filter(state=State.PURGING)).order_by("ends_at", "pk")


def run_due(now: datetime | None = None) -> dict:
    """The job: reminders, then every due (or interrupted) purge. Safe to run concurrently and
    repeatedly: each purge takes a row lock and continues from its stored progress."""
    from mamori.audit.events import Actor
    from mamori.lifecycle.purge import purge_termination

    now = now or timezone.now()
    summary = {"reminders": send_reminders(now), "purged": []}
    for termination in list(due_terminations(now)):
        try:
            purge_termination(termination.pk, actor=Actor.system("termination job"))
        except Exception:  # one tenant's failure must not stop the others; it is retried next run
            logger.exception("purge of tenant %s failed; the next run continues it", termination.tenant_id)
            continue
        summary["purged"].append(termination.tenant_id)
    return summary


def register_jobs() -> None:
    """Register the hourly termination job with the scheduler (``mamori.core.schedule``), if present."""
    try:
        from mamori.core import schedule
    except ImportError:  # the scheduler is not in this build: run `mamori termination run-due` from cron
        return
    schedule.register_periodic("lifecycle.termination", timedelta(hours=1), termination_job)


@task()
def termination_job() -> str:
    """The worker's periodic job: reminders and due purges."""
    summary = run_due()
    return f"reminders={summary['reminders']} purged={len(summary['purged'])}"
