"""Provider console: periodic jobs (schedule, last run and result, next run, run now) and the
history of dependency vulnerability audits."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mamori.audit.events import Actor
from mamori.operations import queries
from mamori.operations.actions_schedules import run_job_now
from mamori.operations.staff import OPERATIONS_ROLES, OPERATOR, staff_required


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def schedules(request):
    return render(request, "provider/schedules.html", {
        "rows": queries.schedule_rows(), "section": "schedules", "scheduler_on": settings.SCHEDULE_ENABLED,
        "can_run": request.provider_staff.role == OPERATOR,
        "table_file": settings.MAMORI_SCHEDULES_FILE,
    })


@require_POST
@staff_required(roles=(OPERATOR,))
def schedule_run_now(request, name: str):
    try:
        run_job_now(actor=Actor.for_staff(request.provider_staff), name=name)
    except ValidationError:
        messages.error(request, _("There is no periodic job with this name."))
    else:
        messages.success(request, _("The job is queued; the worker runs it shortly."))
    return redirect("provider:schedules")


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def vulnerabilities(request):
    page = queries.vulnerability_audits_page(request.GET.get("page"))
    return render(request, "provider/vulnerabilities.html", {
        "page": page, "latest": queries.latest_vulnerability_audit(), "section": "vulnerabilities",
        "max_age_days": settings.MAMORI_VULNERABILITY_AUDIT_MAX_AGE_DAYS,
    })
