"""Security event reports (16.1.2): received through the public form, triaged by the
security officers.

The provider log gets metadata only (reference, sizes, whether a reply address was given,
state and assignee changes): a report may quote secrets, so its subject, body and the
officers' notes stay in the ``SecurityReport`` row and never reach the audit log.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.incidents.actions import staff_actor
from mamori.incidents.models import SecurityReport

TRIAGE_ROLES = ("security_officer",)
LIMITS = {"name": 100, "email": 254, "subject": 200, "body": 20000, "notes": 20000}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class RateLimited(Exception):
    """Too many reports from this client address in the last hour."""


def clean_text(value, *, single_line: bool = False) -> str:
    """Text as typed, minus control characters (NUL cannot be stored); HTML stays text."""
    text = _CONTROL.sub("", str(value or ""))
    if single_line:
        text = " ".join(text.split())
    return text.strip()


def _target(report: SecurityReport) -> tuple[str, int, str]:
    return ("security_report", report.pk, report.reference)


def reports_in_last_hour(client_ip: str | None, now: datetime) -> int:
    """Reports from ``client_ip`` in the hour before ``now``. Clients whose address is unknown
    (``mamori.core.net`` gives None, e.g. a garbled forwarded header) share one bucket."""
    recent = SecurityReport.objects.filter(received_at__gt=now - timedelta(hours=1))
    if not client_ip:
        return recent.filter(client_ip__isnull=True).count()
    return recent.filter(client_ip=client_ip).count()


def _reference(now: datetime) -> str:
    while True:
        ref = f"SR-{now:%Y%m%d}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"
        if not SecurityReport.objects.filter(reference=ref).exists():
            return ref


@action
def submit_security_report(*, client_ip: str | None, subject: str, body: str, name: str = "", email: str = "",
                           language: str = "ja", now: datetime | None = None) -> SecurityReport:
    """Store a report from the public form and queue the acknowledgement (when an address was
    given). Raises ``RateLimited`` past ``MAMORI_SECURITY_REPORTS_PER_HOUR`` per client address."""
    now = now or timezone.now()
    data = {"name": clean_text(name, single_line=True), "email": clean_text(email, single_line=True),
            "subject": clean_text(subject, single_line=True), "body": clean_text(body)}
    errors: dict[str, str] = {}
    for field in ("subject", "body"):
        if not data[field]:
            errors[field] = _("This field is required.")
    for field, value in data.items():
        if len(value) > LIMITS[field]:
            errors[field] = _("At most %(max)d characters.") % {"max": LIMITS[field]}
    if data["email"] and "email" not in errors:
        try:
            validate_email(data["email"])
        except ValidationError:
            errors["email"] = _("Enter a valid e-mail address.")
    if errors:
        raise ValidationError(errors)
    if reports_in_last_hour(client_ip, now) >= settings.MAMORI_SECURITY_REPORTS_PER_HOUR:
        raise RateLimited
    report = SecurityReport.objects.create(reference=_reference(now), received_at=now, updated_at=now,
                                           client_ip=client_ip or None,
                                           language=language if language in ("ja", "en") else "ja", **data)
    record_provider_event("security_report.received", actor=Actor.anonymous(client_ip or ""),
                          target=_target(report),
                          after={"reference": report.reference, "language": report.language,
                                 "reply_address_given": bool(report.email), "subject_chars": len(report.subject),
                                 "body_chars": len(report.body)})
    if report.email:
        from mamori.incidents.notify import mail_report_acknowledgement

        mail_report_acknowledgement(report)
    return report


@action
def triage_security_report(*, staff, report: SecurityReport, state: str, assignee_id: int | None = None,
                           notes: str = "") -> SecurityReport:
    """A security officer sets a report's state, assignee and notes."""
    from mamori.operations.models import ProviderStaff

    actor = staff_actor(staff, TRIAGE_ROLES, "security_reports.triage")
    report = SecurityReport.objects.select_for_update().get(pk=report.pk)
    errors: dict[str, str] = {}
    if state not in SecurityReport.State.values:
        errors["state"] = _("Choose a state.")
    assignee = None
    if assignee_id:
        assignee = ProviderStaff.objects.filter(pk=assignee_id, is_active=True).first()
        if assignee is None:
            errors["assignee"] = _("Choose an active staff member.")
    notes = clean_text(notes)
    if len(notes) > LIMITS["notes"]:
        errors["notes"] = _("At most %(max)d characters.") % {"max": LIMITS["notes"]}
    if errors:
        raise ValidationError(errors)
    before = {"state": report.state, "assignee": report.assignee.email if report.assignee else None}
    notes_changed = notes != report.notes
    report.state, report.assignee, report.notes, report.updated_at = state, assignee, notes, timezone.now()
    report.save(update_fields=["state", "assignee", "notes", "updated_at"])
    after = {"state": report.state, "assignee": assignee.email if assignee else None}
    record_provider_event("security_report.updated", actor=actor, target=_target(report),
                          before=before, after={**after, "notes_changed": notes_changed})
    return report
