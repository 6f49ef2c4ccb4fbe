"""The daily cleanup of expired full tenant exports, registered with the scheduler."""

from __future__ import annotations

from datetime import time, timedelta


def register_jobs() -> None:
    """Register the daily cleanup (``mamori.core.schedule``), if the scheduler is present."""
    try:
        from mamori.core import schedule
    except ImportError:  # no scheduler in this build: call delete_expired_tenant_exports_everywhere from cron
        return
    from mamori.lifecycle.tasks import delete_expired_tenant_exports_task

    schedule.register_periodic("lifecycle.tenant_exports.cleanup", timedelta(days=1),
                               delete_expired_tenant_exports_task, at=time(3, 40))
