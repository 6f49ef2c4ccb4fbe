"""Dependency vulnerability audits (12.6.1) and periodic jobs (12.1.2-schedules): read from
the audits ``mamori security audit`` stored and from the schedule's run records
(mamori.operations, mamori.core.schedule)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.compliance.registry import CheckResult, control


@control("12.6.1", _("Dependencies audited for known vulnerabilities, none open"), section="vulnerabilities")
def dependency_audit() -> CheckResult:
    from mamori.operations.queries import latest_vulnerability_audit

    max_days = int(settings.MAMORI_VULNERABILITY_AUDIT_MAX_AGE_DAYS)
    latest_any = latest_vulnerability_audit()
    latest = latest_vulnerability_audit(ok_only=True)
    now = timezone.now()
    evidence = {"max_age_days": max_days, "ran_at": None, "age_days": None, "packages_checked": 0,
                "findings": 0, "fixable": 0, "vulnerable_packages": [], "advisories": [],
                "last_attempt_ok": latest_any.ok if latest_any else None,
                "last_attempt_error": (latest_any.error[:300] if latest_any and not latest_any.ok else "")}
    if latest is None:
        return CheckResult.failed(_("No dependency vulnerability audit has completed yet (mamori security audit)."),
                                  **evidence)
    age = now - latest.ran_at
    evidence.update(ran_at=latest.ran_at.isoformat(), age_days=round(age.total_seconds() / 86400, 2),
                    packages_checked=latest.packages_checked, findings=len(latest.findings),
                    fixable=latest.fixable,
                    vulnerable_packages=sorted({f["package"] for f in latest.findings})[:50],
                    advisories=sorted({f["id"] for f in latest.findings})[:50])
    if age > timedelta(days=max_days):
        return CheckResult.failed(_("The newest completed dependency audit is %(days).1f days old (limit %(max)d days).")
                                  % {"days": evidence["age_days"], "max": max_days}, **evidence)
    if latest.findings:
        return CheckResult.failed(_("The dependency audit of %(at)s found %(n)d known vulnerabilities in %(p)d "
                                    "packages (%(fixable)d with a fixed version).")
                                  % {"at": latest.ran_at.strftime("%Y-%m-%d %H:%M UTC"), "n": len(latest.findings),
                                     "p": len(evidence["vulnerable_packages"]), "fixable": latest.fixable},
                                  **evidence)
    return CheckResult.passed(_("%(n)d installed packages audited on %(at)s (within %(max)d days): no known "
                                "vulnerabilities.")
                              % {"n": latest.packages_checked, "at": latest.ran_at.strftime("%Y-%m-%d %H:%M UTC"),
                                 "max": max_days}, **evidence)


def job_states(now=None) -> list[dict]:
    """Each registered job: ``ok`` (last run within 2× its period and not failed), ``disabled``
    (switched off in the schedule table), ``pending`` (never due long enough to have run),
    ``late`` or ``failed``."""
    from mamori.operations.queries import schedule_rows

    now = now or timezone.now()
    states = []
    for row in schedule_rows(now):
        run = row.run
        item = {"job": row.name, "every": row.every_text, "at": row.at_text if row.at else None,
                "enabled": row.enabled, "last_run_at": run.last_run_at.isoformat() if run and run.last_run_at else None,
                "result": row.result}
        if not row.enabled:
            item["state"] = "disabled"
        elif row.result == "failed":
            item["state"] = "failed"
            item["error"] = run.last_error[:200]
        elif run is not None and run.last_run_at and run.last_run_at >= now - 2 * row.every:
            item["state"] = "ok"
        elif (run is None or not run.last_run_at) and (row.next_run_at is None or row.next_run_at > now - row.every):
            item["state"] = "pending"  # first due time not yet (or less than one period) passed
        else:
            item["state"] = "late"
        states.append(item)
    return states


@control("12.1.2", _("Periodic operations jobs run on schedule"), section="operations_manuals",
         key="12.1.2-schedules")
def schedules_ran() -> CheckResult:
    if not settings.SCHEDULE_ENABLED:
        return CheckResult.not_applicable(
            _("The built-in scheduler is off (MAMORI_SCHEDULE=0): periodic jobs run from the provider's cron and "
              "their runs are not recorded here."), scheduler=False)
    jobs = job_states()
    bad = [j for j in jobs if j["state"] in ("late", "failed")]
    counts = {state: sum(1 for j in jobs if j["state"] == state)
              for state in ("ok", "pending", "disabled", "late", "failed")}
    if bad:
        return CheckResult.failed(_("%(n)d of %(total)d periodic jobs did not run within twice their period or "
                                    "failed last time: %(names)s.")
                                  % {"n": len(bad), "total": len(jobs), "names": ", ".join(j["job"] for j in bad)},
                                  scheduler=True, counts=counts, jobs=jobs)
    return CheckResult.passed(_("%(ok)d periodic jobs ran within twice their period, %(pending)d are not due yet, "
                                "%(disabled)d are disabled in the schedule table.") % counts,
                              scheduler=True, counts=counts, jobs=jobs)
