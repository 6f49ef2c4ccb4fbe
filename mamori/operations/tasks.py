"""Background tasks of the provider console: the weekly dependency vulnerability audit."""

from __future__ import annotations

from django_tasks import task

from mamori.audit.events import Actor


@task()
def vulnerability_audit_task() -> dict:
    """``mamori security audit`` on the worker (weekly, ``security.vulnerability_audit``)."""
    from mamori.operations.actions_security import audit_dependencies

    audit = audit_dependencies(actor=Actor.system("schedule"))
    if not audit.ok:  # the run is recorded; the failure shows on the Schedules page too
        raise RuntimeError(f"dependency audit could not run: {audit.error[:300]}")
    return {"audit_id": audit.pk, "findings": len(audit.findings), "packages_checked": audit.packages_checked}
