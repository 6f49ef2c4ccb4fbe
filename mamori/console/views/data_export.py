"""Full tenant export in the console (Settings → Data): start, follow progress, download.

Tenant admins only; starting an export needs a recent re-authentication (it hands out
every piece of the tenant's data). The ZIP is built in the background; the detail page
polls its status with htmx until it is ready.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from mamori.console.views.common import FORM, actor, console_view
from mamori.lifecycle import actions_export as actions
from mamori.lifecycle import export_queries as queries
from mamori.lifecycle.actions_export import EXPORT_PERMISSION


@never_cache
@console_view(FORM, perm=EXPORT_PERMISSION, reauth=True)
def data_export(request):
    """The list of exports and the button that starts a new one (POST, re-authenticated)."""
    exports = queries.tenant_exports(request.user)
    if request.method == "POST":
        try:
            export = actions.request_tenant_export(actor=actor(request))
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("console:data_export")
        messages.success(request, _("Export started. It is built in the background; this page shows its progress."))
        return redirect("console:data_export_detail", pk=export.pk)
    return render(request, "console/data/export.html", {
        "exports": exports[:50], "running": queries.export_in_progress(),
        "expiry_days": settings.TENANT_EXPORT_EXPIRY_DAYS,
    })


@never_cache
@console_view(perm=EXPORT_PERMISSION)
def data_export_detail(request, pk: int):
    export = queries.access_export(request.user, pk)
    template = "console/data/export_status.html" if request.htmx else "console/data/export_detail.html"
    return render(request, template, {"export": export})


@never_cache
@console_view(perm=EXPORT_PERMISSION)
def data_export_download(request, pk: int):
    export = queries.access_export(request.user, pk, for_download=True)
    handle = queries.open_export(export)
    actions.record_export_download(actor=actor(request), export=export)
    return FileResponse(handle, as_attachment=True, filename=export.filename, content_type="application/zip")
