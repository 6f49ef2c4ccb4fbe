"""Provider console: contract terminations, grace periods and deletion certificates (CLD.8.1.5).

Operators and security officers terminate a tenant's contract (grace period: the tenant's
override or the default, or a number given here), cancel a scheduled termination and set a
tenant's grace period. Each change is written to the provider log and the tenant's log.
Deletion certificates (no customer data) can be downloaded as issued.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from mamori.access.errors import PermissionDenied
from mamori.core.forms import apply_validation_error
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle import termination as term
from mamori.lifecycle.models import DeletionCertificate
from mamori.operations.staff import OPERATIONS_ROLES, staff_required
from mamori.tenancy.actions import list_tenants_across_tenants


class TerminateForm(forms.Form):
    grace_days = forms.IntegerField(label=gettext_lazy("Grace period (days)"), min_value=0,
                                    max_value=acts.MAX_GRACE_DAYS, required=False,
                                    help_text=gettext_lazy("Leave empty for the tenant's grace period."))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class CancelForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class GraceForm(forms.Form):
    days = forms.IntegerField(label=gettext_lazy("Grace period of this tenant (days)"), min_value=0,
                              max_value=acts.MAX_GRACE_DAYS, required=False,
                              help_text=gettext_lazy("Leave empty for the provider default."))


@never_cache
@require_GET
@staff_required
def terminations(request):
    return render(request, "provider/terminations.html", {
        "terminations": list(term.terminations()[:200]), "certificates": list(term.certificates()[:200]),
        "default_grace": term.default_grace_days(), "section": "terminations"})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def tenant_termination(request, slug: str):
    tenant = list_tenants_across_tenants().filter(slug=slug).first()
    if tenant is None:
        raise Http404
    staff = request.provider_staff
    do = request.POST.get("do", "") if request.method == "POST" else ""
    forms_ = {"terminate": TerminateForm(request.POST if do == "terminate" else None),
              "cancel": CancelForm(request.POST if do == "cancel" else None),
              "grace": GraceForm(request.POST if do == "grace" else None,
                                 initial={"days": term.grace_override(tenant)})}
    if do in forms_ and forms_[do].is_valid():
        data = forms_[do].cleaned_data
        try:
            if do == "terminate":
                acts.terminate_tenant(staff=staff, tenant=tenant, grace_days=data["grace_days"],
                                      reason=data["reason"])
                messages.success(request, _("The tenant's contract is terminated; the grace period has started."))
            elif do == "cancel":
                acts.cancel_termination(staff=staff, tenant=tenant, reason=data["reason"])
                messages.success(request, _("The termination is cancelled; the tenant is active again."))
            else:
                acts.set_grace_period(staff=staff, tenant=tenant, days=data["days"])
                messages.success(request, _("Grace period saved."))
            return redirect("provider:tenant_termination", slug=tenant.slug)
        except PermissionDenied:
            forms_[do].add_error(None, _("Only operators and security officers may terminate contracts."))
        except ValidationError as exc:
            apply_validation_error(forms_[do], exc)
    tenant.refresh_from_db()
    open_ = term.open_termination(tenant)
    return render(request, "provider/termination.html", {
        "tenant": None, "customer": tenant, "termination": open_,
        "latest": term.latest_termination(tenant),
        "days_left": term.days_left(open_) if open_ else None,
        "grace_days": term.grace_days_for(tenant), "default_grace": term.default_grace_days(),
        "forms": forms_, "section": "terminations",
    }, status=422 if any(f.errors for f in forms_.values()) else 200)


@never_cache
@require_GET
@staff_required(roles=OPERATIONS_ROLES)
def certificate_download(request, pk: int):
    cert = DeletionCertificate.objects.filter(pk=pk).first()
    if cert is None:
        raise Http404
    response = HttpResponse(cert.document, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deletion-certificate-{cert.tenant_slug}.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
