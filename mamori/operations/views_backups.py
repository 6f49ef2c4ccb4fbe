"""Provider console: system backups and restore drills (ISMS 12.3.1; docs/backups.md).

Read-only: backups are made, pruned and drilled by ``mamori worker`` on its schedule and by
``mamori backup``. The page shows the generation policy, every kept backup with its checks,
and the drills with each check's result.
"""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mamori.lifecycle import backup_queries
from mamori.operations.staff import OPERATIONS_ROLES, staff_required


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def backups(request):
    return render(request, "provider/backups.html", {
        "status": backup_queries.backup_status(),
        "backups": list(backup_queries.recent_backups()),
        "drills": list(backup_queries.recent_drills()),
        "policy": backup_queries.policy(),
        "section": "backups",
    })
