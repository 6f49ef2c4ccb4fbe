"""Provider console: the emergency override of a tenant's IP allowlist (ISMS 9.2.3).

For a customer that locked itself out. A provider staff member (operator or security
officer) suspends the tenant's allowlist for a limited time with a reason; the action
writes it to the tenant's own operation log and to the provider log, and the tenant's
allowlist page shows it. The override ends by itself; staff may end it earlier.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mamori.access import actions_allowlist
from mamori.access.allowlist import active_override
from mamori.access.errors import PermissionDenied
from mamori.core.forms import apply_validation_error
from mamori.operations.staff import staff_required
from mamori.tenancy.actions import list_tenants_across_tenants
from mamori.tenancy.context import tenant_context


class OverrideForm(forms.Form):
    minutes = forms.IntegerField(
        label=gettext_lazy("Duration (minutes)"), initial=60,
        min_value=actions_allowlist.OVERRIDE_MIN_MINUTES, max_value=actions_allowlist.OVERRIDE_MAX_MINUTES)
    reason = forms.CharField(label=gettext_lazy("Reason (shown to the tenant)"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 3}))


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def ip_allowlist_override(request, slug: str):
    tenant = list_tenants_across_tenants().filter(slug=slug).first()
    if tenant is None:
        raise Http404
    staff = request.provider_staff
    form = OverrideForm(request.POST or None) if request.POST.get("do") != "end" else OverrideForm()
    if request.method == "POST":
        try:
            if request.POST.get("do") == "end":
                if actions_allowlist.end_allowlist_override(staff=staff, tenant=tenant) is not None:
                    messages.success(request, _("The emergency override has ended."))
                return redirect("provider:ip_allowlist_override", slug=tenant.slug)
            if form.is_valid():
                actions_allowlist.start_allowlist_override(
                    staff=staff, tenant=tenant, minutes=form.cleaned_data["minutes"],
                    reason=form.cleaned_data["reason"])
                messages.success(request, _("The tenant's IP allowlist is suspended until the override ends."))
                return redirect("provider:ip_allowlist_override", slug=tenant.slug)
        except PermissionDenied:
            form.add_error(None, _("Only operators and security officers may override a tenant's allowlist."))
        except ValidationError as exc:
            apply_validation_error(form, exc)
    with tenant_context(tenant):
        override = active_override(tenant.pk)
    return render(request, "provider/ip_override.html", {
        "tenant": None, "customer": tenant, "override": override, "form": form, "section": "tenants",
    }, status=200 if not form.errors else 422)
