"""Settings → Data → Backups: a read-only list of the tenant's own encrypted backups.

Tenant admins see when their data was backed up (times, rows, files); restoring is done by the
provider on request (``mamori backup restore-tenant``, provider console), see docs/tenant-backups.md.
"""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from mamori.console.views.common import console_view
from mamori.lifecycle import tenant_backup_jobs as jobs
from mamori.lifecycle.actions_export import EXPORT_PERMISSION
from mamori.tenancy.context import require_tenant


@never_cache
@console_view(perm=EXPORT_PERMISSION)
def data_backups(request):
    return render(request, "console/data/backups.html", {
        "backups": list(jobs.backups_of(require_tenant()).filter(status="complete")[:60]),
        "keep_days": jobs.tb.keep_days(),
    })
