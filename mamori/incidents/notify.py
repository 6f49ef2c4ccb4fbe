"""Mail of the incidents app: notices to tenant contacts (in each contact's language), the
deadline warnings to the security officers, and the security report acknowledgement."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from mamori.core.tasks import enqueue_mail_on_commit

LANGUAGES = ("ja", "en")


def render_mail(name: str, language: str, context: dict) -> tuple[str, str]:
    """(subject, body) of ``incidents/email/<name>_{subject,body}.txt`` in ``language``."""
    lang = language if language in LANGUAGES else settings.LANGUAGE_CODE
    context = {"provider_name": settings.PROVIDER_NAME, "base_url": settings.BASE_URL, **context}
    with translation.override(lang):
        subject = render_to_string(f"incidents/email/{name}_subject.txt", context)
        body = render_to_string(f"incidents/email/{name}_body.txt", context)
    return f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{' '.join(subject.split())}", body


def send_notice(delivery) -> None:
    """Send one incident notice e-mail now (raises on failure). Used by the delivery task."""
    update = delivery.update
    incident = update.incident
    tenant = delivery.affected.tenant
    lang = delivery.language if delivery.language in LANGUAGES else tenant.language
    with translation.override(lang):
        context = {"incident": incident, "tenant": tenant, "title": incident.title(lang),
                   "text": update.text(lang), "at": update.at,
                   "severity": incident.get_severity_display(), "state": incident.get_state_display(),
                   "console_url": f"{settings.BASE_URL}/t/{tenant.slug}/",
                   "time_zone": tenant.time_zone}
    subject, body = render_mail("notice", lang, context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=[delivery.address])
    message.send(fail_silently=False)


def security_officer_emails() -> list[str]:
    from mamori.operations.models import ProviderStaff

    return sorted(ProviderStaff.objects.filter(is_active=True, role=ProviderStaff.StaffRole.SECURITY_OFFICER)
                  .values_list("email", flat=True))


def mail_security_officers(row, kind: str) -> list[str]:
    """Queue a bilingual (JA then EN) mail about ``row``'s deadline to every security officer."""
    recipients = security_officer_emails()
    if not recipients:
        return []
    parts, subjects = [], []
    for lang in LANGUAGES:
        subject, body = render_mail(f"officer_{kind}", lang, {
            "row": row, "incident": row.incident, "tenant": row.tenant, "title": row.incident.title(lang),
            "board_url": f"{settings.BASE_URL}/provider/incidents/deadlines/"})
        subjects.append(subject)
        parts.append(body)
    enqueue_mail_on_commit(subject=subjects[0], body="\n----\n\n".join(parts), to=recipients)
    return recipients


def mail_report_acknowledgement(report) -> None:
    subject, body = render_mail("report_ack", report.language, {"report": report})
    enqueue_mail_on_commit(subject=subject, body=body, to=[report.email])
