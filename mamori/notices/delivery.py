"""Mailing a notice to every contact of every affected tenant, each in the contact's language.

Run by ``deliver_notice_task`` after the publishing action committed. Each address gets one
``NoticeDelivery`` row per (purpose, revision): created before the mail is sent, marked
``sent_at`` after the mail backend accepted it, or given the error. Running the task again
(a retry after a failure, a second worker) sends only what was not sent yet.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mamori.audit.events import Actor, record_provider_event
from mamori.notices.models import Notice, NoticeDelivery
from mamori.tenancy.contacts import tenant_contacts
from mamori.tenancy.models import Tenant

logger = logging.getLogger("mamori.notices")
Purpose = NoticeDelivery.Purpose


def console_url(tenant: Tenant, path: str = "notices/") -> str:
    return f"{settings.BASE_URL}/t/{tenant.slug}/{path.lstrip('/')}"


def render_mail(notice: Notice, purpose: str, language: str, tenant: Tenant) -> tuple[str, str]:
    """(subject, body) of a notice mail in ``language``, times in the tenant's time zone."""
    language = language if language in ("ja", "en") else (tenant.language or settings.LANGUAGE_CODE)
    with translation.override(language), timezone.override(tenant.time_zone or settings.TIME_ZONE):
        context = {"notice": notice, "purpose": purpose, "tenant": tenant, "title": notice.title_in(language),
                   "body": notice.body_in(language), "components": notice.component_labels(),
                   "console_url": console_url(tenant), "provider_name": settings.PROVIDER_NAME,
                   "zone": tenant.time_zone}
        subject = render_to_string("notices/email/notice_subject.txt", context)
        body = render_to_string("notices/email/notice_body.txt", context)
    return f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{' '.join(subject.split())}", body


def deliver(notice_id: int, purpose: str, revision: int) -> dict[str, int]:
    """Send the notice's ``purpose`` mail to every contact still waiting for it; returns counts."""
    from mamori.notices.actions import affected_tenants

    counts = {"sent": 0, "failed": 0, "skipped": 0, "tenants": 0}
    notice = Notice.objects.filter(pk=notice_id).first()
    if notice is None:
        return counts
    expected = Notice.State.CANCELLED if purpose == Purpose.CANCELLATION else Notice.State.PUBLISHED
    if notice.state != expected:
        return counts  # cancelled before its announcement went out: tell nobody
    for tenant in affected_tenants(notice):
        counts["tenants"] += 1
        for contact in tenant_contacts(tenant):
            row, _created = NoticeDelivery.objects.get_or_create(
                notice=notice, tenant=tenant, channel=NoticeDelivery.Channel.MAIL, purpose=purpose,
                revision=revision, address=contact.email, defaults={"language": contact.language})
            if row.sent_at is not None:
                counts["skipped"] += 1
                continue
            subject, body = render_mail(notice, purpose, contact.language, tenant)
            message = EmailMultiAlternatives(subject=subject, body=body, to=[contact.email])
            row.attempts += 1
            try:
                message.send(fail_silently=False)
            except Exception as exc:  # any transport error is recorded on the row, never lost
                row.error = f"{type(exc).__name__}: {exc}"[:1000]
                counts["failed"] += 1
                logger.warning("notice mail failed", extra={"notice": notice.pk, "tenant": tenant.pk,
                                                            "error": type(exc).__name__})
            else:
                row.sent_at, row.error = timezone.now(), ""
                counts["sent"] += 1
            row.save(update_fields=["attempts", "sent_at", "error"])
    record_provider_event("notice.delivered", actor=Actor.system("notice delivery"),
                          target=("notice", notice.pk, (notice.title_en or notice.title_ja)[:300]),
                          after={"purpose": purpose, "revision": revision, **counts})
    return counts
