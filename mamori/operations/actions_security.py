"""Dependency vulnerability audits (12.6.1): store each run of pip-audit with its log event."""

from __future__ import annotations

from django.utils import timezone

from mamori.audit.events import Actor, record_provider_event
from mamori.core.actions import action
from mamori.operations import vulnerabilities
from mamori.operations.models import VulnerabilityAudit


@action
def record_vulnerability_audit(*, actor: Actor, started_at, report: vulnerabilities.AuditReport | None,
                               error: str = "", mode: str = "installed", service: str = "") -> VulnerabilityAudit:
    """Store one audit: its report, or the reason it could not run (``ok`` False)."""
    audit = VulnerabilityAudit(ran_at=started_at, finished_at=timezone.now(), triggered_by=actor.label[:254])
    if report is not None:
        audit.ok = True
        audit.mode, audit.service = report.mode, report.service
        audit.packages_checked = report.packages_checked
        audit.findings, audit.skipped = report.findings, report.skipped
    else:
        audit.ok, audit.mode, audit.service, audit.error = False, mode, service, error[:2000]
    audit.save()
    record_provider_event(
        "security.vulnerability_audit", actor=actor, target=("operations.vulnerabilityaudit", audit.pk, "audit"),
        after={"ok": audit.ok, "packages_checked": audit.packages_checked, "findings": len(audit.findings),
               "skipped": len(audit.skipped), "ids": sorted({f["id"] for f in audit.findings})[:50],
               "error": audit.error[:300]})
    return audit


def audit_dependencies(*, actor: Actor, requirements: str | None = None, local: bool = False,
                       service: str | None = None, from_json: str | None = None,
                       timeout: int | None = None) -> VulnerabilityAudit:
    """Run pip-audit (or read a report file) and store the result. Not an action itself: the
    subprocess runs outside any transaction; the storing is."""
    from django.conf import settings

    started = timezone.now()
    service = service or settings.MAMORI_VULNERABILITY_SERVICE
    mode = "imported" if from_json else ("requirements" if requirements else "installed")
    try:
        if from_json:
            report = vulnerabilities.read_report_file(from_json)
        else:
            report = vulnerabilities.run_pip_audit(requirements=requirements, local=local, service=service,
                                                   timeout=timeout)
    except (vulnerabilities.AuditUnavailable, ValueError) as exc:
        return record_vulnerability_audit(actor=actor, started_at=started, report=None, error=str(exc),
                                          mode=mode, service=service)
    return record_vulnerability_audit(actor=actor, started_at=started, report=report)
