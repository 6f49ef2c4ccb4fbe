"""Provider console: a tenant's attachment size limit (the ceiling its admins can only lower).

Operators and security officers set it per tenant (empty: the provider default
``MAMORI_ATTACHMENT_MAX_BYTES``). The change is written to the tenant's operation log and to the
provider log (``mamori.records.actions_attachments.set_provider_attachment_limit``).
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

from mamori.access.errors import PermissionDenied
from mamori.operations.staff import staff_required
from mamori.records.actions_attachments import human_size, set_provider_attachment_limit
from mamori.records.queries import attachment_limits
from mamori.tenancy.actions import list_tenants_across_tenants
from mamori.tenancy.context import tenant_context

MIB = 1024 * 1024


class ProviderLimitForm(forms.Form):
    max_mb = forms.DecimalField(
        label=gettext_lazy("Size limit per file for this tenant (MB)"), required=False, min_value=0.01,
        max_digits=10, decimal_places=2,
        help_text=gettext_lazy("Leave empty for the provider default. The tenant's admins can lower it, never raise it."))


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def attachment_limit(request, slug: str):
    tenant = list_tenants_across_tenants().filter(slug=slug).first()
    if tenant is None:
        raise Http404
    form = ProviderLimitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        value = form.cleaned_data["max_mb"]
        try:
            set_provider_attachment_limit(staff=request.provider_staff, tenant=tenant,
                                          max_bytes=None if value is None else int(value * MIB))
        except PermissionDenied:
            form.add_error(None, _("Only operators and security officers may change a tenant's limits."))
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("max_mb", message)
        else:
            messages.success(request, _("Attachment size limit saved."))
            return redirect("provider:attachment_limit", slug=tenant.slug)
    with tenant_context(tenant):
        limits = attachment_limits()
    if request.method == "GET":
        form = ProviderLimitForm(initial={"max_mb": None if limits["provider"] == limits["provider_default"]
                                          else round(limits["provider"] / MIB, 2)})
    return render(request, "provider/attachment_limit.html", {
        "tenant": None, "customer": tenant, "form": form, "section": "tenants",
        "provider_default": human_size(limits["provider_default"]), "ceiling": human_size(limits["provider"]),
        "tenant_limit": human_size(limits["tenant"]) if limits["tenant"] else "",
        "effective": human_size(limits["effective"]),
    }, status=422 if form.errors else 200)
