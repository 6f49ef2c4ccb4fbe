"""Reads for the provider console. Provider tables only: no customer data is reachable here."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from mamori.audit.models import ProviderEvent
from mamori.operations.models import OutboxMessage

PAGE_SIZE = 50


def _page(queryset: QuerySet, number) -> Page:
    return Paginator(queryset, PAGE_SIZE).get_page(number)


def provider_events_page(number) -> Page:
    """The provider log, newest first."""
    return _page(ProviderEvent.objects.order_by("-occurred_at", "-id"), number)


def outbox_page(number) -> Page:
    """Mail kept in the local outbox (embedded default), newest first; bodies are not loaded."""
    return _page(OutboxMessage.objects.order_by("-created_at", "-id")
                 .only("id", "created_at", "to", "subject"), number)


def outbox_message(message_id: int) -> OutboxMessage | None:
    return OutboxMessage.objects.filter(pk=message_id).first()


def recent_staff_sign_in_failures(*, email: str, ip: str | None, minutes: int) -> tuple[int, int]:
    """Failed provider sign-ins in the last ``minutes``: (for this e-mail, from this IP)."""
    from datetime import timedelta

    from django.utils import timezone

    since = timezone.now() - timedelta(minutes=minutes)
    failures = ProviderEvent.objects.filter(action="provider.login_failed", occurred_at__gte=since)
    by_email = failures.filter(actor_label=(email or "").strip().lower()[:254]).count() if email else 0
    by_ip = failures.filter(ip=ip).count() if ip else 0
    return by_email, by_ip
