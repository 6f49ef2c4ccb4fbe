"""Evidence packages in the console: request, follow progress, download (tenant admins)."""

from __future__ import annotations

from django import forms
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



class RetentionForm(forms.Form):
    """One category's retention: a number of days (0 = the contract's life) or the default."""

    category = forms.ChoiceField(choices=[(c, c) for c in retention.TENANT_CATEGORIES],
                                 widget=forms.HiddenInput)
    days = forms.IntegerField(label=_("Days"), min_value=0, max_value=36500, required=False,
                              help_text=_("0 keeps events for the contract's life. "
                                          "Leave empty to use the provider default."))


def _retention_form(category: str, data=None, initial=None) -> RetentionForm:
    # One form per category on one page: ids must not collide.
    return RetentionForm(data, initial=initial, auto_id=f"id_{category}_%s")


@console_view(FORM, perm=Perm.VIEW_AUDIT)
def retention_settings(request):
    """Tenant admins choose how long each category of their log is kept, inside the
    provider's bounds; everyone who may read the log sees the policy."""
    overrides = queries.retention_overrides()
    bound: dict[str, RetentionForm] = {}
    if request.method == "POST":
        queries.require_evidence_admin_user(request.user)
        category = request.POST.get("category", "")
        form = _retention_form(category if category in retention.TENANT_CATEGORIES else "x", request.POST)
        if form.is_valid():
            try:
                actions.set_retention(actor=actor(request), category=form.cleaned_data["category"],
                                      days=form.cleaned_data["days"])
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Retention saved."))
                return redirect("console:retention")
        if category in retention.TENANT_CATEGORIES:
            bound[category] = form
        else:
            messages.error(request, _("Unknown category."))
    rows = [{
        "category": category,
        "default": retention.default_days(category),
        "bounds": retention.bounds(category).describe(),
        "override": overrides.get(category),
        "form": bound.get(category) or _retention_form(
            category, initial={"category": category, "days": overrides.get(category)}),
    } for category in retention.TENANT_CATEGORIES]
    return render(request, "console/evidence/retention.html", {
        "rows": rows, "can_change": actions.is_evidence_admin(request.user),
    }, status=422 if request.method == "POST" else 200)
