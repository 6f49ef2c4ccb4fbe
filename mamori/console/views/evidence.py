"""Evidence packages in the console: request, follow progress, download (tenant admins)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, actor, console_view
from mamori.evidence import actions, queries, retention
from mamori.evidence.forms import EvidenceExportForm


def _list(request, form):
    policy = retention.tenant_policy()
    return render(request, "console/evidence/list.html", {
        "form": form,
        "exports": queries.evidence_exports(request.user)[:50],
        "retention": [(category, policy[category], retention.default_days(category))
                      for category in retention.TENANT_CATEGORIES],
    })


@console_view(perm=Perm.VIEW_AUDIT)
def evidence_list(request):
    today = timezone.localdate()
    form = EvidenceExportForm(initial={"since": today - timezone.timedelta(days=30), "until": today})
    return _list(request, form)


@console_view(FORM, perm=Perm.VIEW_AUDIT)
def evidence_create(request):
    queries.require_evidence_admin_user(request.user)
    form = EvidenceExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        since, until = form.time_range(request.tenant.time_zone)
        try:
            export = actions.request_export(actor=actor(request), since=since, until=until)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Evidence package requested. It is generated in the background."))
            return redirect("console:evidence_detail", pk=export.pk)
    return _list(request, form)


@never_cache
@console_view(perm=Perm.VIEW_AUDIT)
def evidence_detail(request, pk: int):
    export = queries.access_export(request.user, pk)
    template = "console/evidence/_status.html" if request.htmx else "console/evidence/detail.html"
    return render(request, template, {"export": export})


@never_cache
@console_view(perm=Perm.VIEW_AUDIT)
def evidence_download(request, pk: int):
    export = queries.access_export(request.user, pk, for_download=True)
    handle = queries.open_package(export)
    actions.record_download(actor=actor(request), export=export)
    return FileResponse(handle, as_attachment=True, filename=export.filename, content_type="application/zip")
