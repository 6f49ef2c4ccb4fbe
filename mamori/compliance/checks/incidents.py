"""Incident notification deadlines (16.1.1) and security event reporting (16.1.2)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.compliance.registry import CheckResult, control


@control("16.1.1", gettext_lazy("Incidents: no overdue first notification to an affected tenant"),
         section="incidents")
def incident_notifications() -> CheckResult:
    from mamori.incidents import policy as pol
    from mamori.incidents import queries

    now = timezone.now()
    summary = queries.deadline_summary(now)
    rule = pol.default_policy()
    overdue = [f"{row['incident'].reference}/{row['tenant'].slug}"
               for row in queries.deadline_rows(now) if row["status"] == "overdue"]
    evidence = {"open_incidents": summary["open_incidents"], "pending_deadlines": summary["pending"],
                "overdue_count": summary["overdue"], "notified_late": summary["late"],
                "policy": rule.key, "rule": pol.describe(rule), "overdue": overdue[:20]}
    if overdue:
        return CheckResult.failed(_("%(count)d first notification(s) to affected tenants are overdue.")
                                  % {"count": len(overdue)}, **evidence)
    return CheckResult.passed(_("No first notification is overdue (open incidents: %(open)d, pending: %(pending)d).")
                              % {"open": summary["open_incidents"], "pending": summary["pending"]}, **evidence)


@control("16.1.2", gettext_lazy("Security event reports: public form and security.txt with a contact"),
         section="event_reporting")
def security_reporting() -> CheckResult:
    from mamori.incidents.views_public import report_form_enabled, security_txt_lines

    lines = security_txt_lines()
    contacts = [line.split(": ", 1)[1] for line in lines if line.startswith("Contact: ")]
    expires = next(line.split(": ", 1)[1] for line in lines if line.startswith("Expires: "))
    evidence = {"report_form": "/security/report" if report_form_enabled() else None,
                "contact": contacts, "expires": expires, "security_txt": "/.well-known/security.txt"}
    if not report_form_enabled():
        return CheckResult.failed(_("The security report form is turned off (MAMORI_SECURITY_REPORTS_PER_HOUR = 0)."),
                                  **evidence)
    if not contacts:
        return CheckResult.failed(_("security.txt has no contact."), **evidence)
    return CheckResult.passed(_("Report form at /security/report; security.txt lists %(count)d contact(s), "
                                "expires %(expires)s.") % {"count": len(contacts), "expires": expires}, **evidence)
