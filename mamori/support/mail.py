"""Support access mails: to the tenant's contacts when a request arrives, to the staff member
when it is decided (approved, refused) or ended early (revoked). Sent after the action commits."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mamori.core.tasks import enqueue_mail_on_commit
from mamori.support.models import SupportAccessRequest
from mamori.tenancy.contacts import tenant_contacts
from mamori.tenancy.models import Tenant


def _render(name: str, language: str, tenant: Tenant, context: dict) -> tuple[str, str]:
    language = language if language in ("ja", "en") else (tenant.language or settings.LANGUAGE_CODE)
    with translation.override(language), timezone.override(tenant.time_zone or settings.TIME_ZONE):
        subject = render_to_string(f"support/email/{name}_subject.txt", context)
        body = render_to_string(f"support/email/{name}_body.txt", context)
    return f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{' '.join(subject.split())}", body


def _context(grant: SupportAccessRequest, tenant: Tenant) -> dict:
    return {"grant": grant, "tenant": tenant, "zone": tenant.time_zone,
            "console_url": f"{settings.BASE_URL}/t/{tenant.slug}/settings/security/support-access/",
            "provider_url": f"{settings.BASE_URL}/provider/support/",
            "provider_name": getattr(settings, "PROVIDER_NAME", "")}


def mail_request_to_contacts(grant: SupportAccessRequest, tenant: Tenant) -> int:
    """One mail per tenant contact (admins and the notification address), in their language."""
    contacts = tenant_contacts(tenant)
    for contact in contacts:
        subject, body = _render("requested", contact.language, tenant, _context(grant, tenant))
        enqueue_mail_on_commit(subject=subject, body=body, to=[contact.email])
    return len(contacts)


def mail_decision_to_staff(grant: SupportAccessRequest, tenant: Tenant) -> None:
    subject, body = _render("decided", settings.LANGUAGE_CODE, tenant, _context(grant, tenant))
    enqueue_mail_on_commit(subject=subject, body=body, to=[grant.staff_email])
