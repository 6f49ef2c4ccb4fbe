"""Provider console: one tenant's encrypted per-tenant backups (docs/tenant-backups.md).

Lists the tenant's backups (provider rows: times, sizes, row counts; no customer content),
takes one on demand and restores one, as a new tenant or in place (the tenant's slug typed
again to confirm). Backups and restores run in the worker (``mamori worker``); the result
shows up here and in the provider log. Operators and security officers only.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mamori.lifecycle import tenant_backup_jobs as jobs
from mamori.operations.models import ProviderStaff
from mamori.operations.staff import staff_required
from mamori.tenancy.actions import list_tenants_across_tenants
from mamori.tenancy.models import SLUG_VALIDATOR, Tenant, validate_slug_not_reserved

BACKUP_ROLES = (ProviderStaff.StaffRole.OPERATOR, ProviderStaff.StaffRole.SECURITY_OFFICER)


class RestoreForm(forms.Form):
    MODES = [("as_new", gettext_lazy("As a new tenant (the current tenant stays as it is)")),
             ("in_place", gettext_lazy("In place (replaces the tenant's current data)"))]

    backup = forms.UUIDField(widget=forms.HiddenInput)
    mode = forms.ChoiceField(label=gettext_lazy("Restore"), choices=MODES, widget=forms.RadioSelect, initial="as_new")
    new_slug = forms.CharField(label=gettext_lazy("Slug of the new tenant"), max_length=40, required=False)
    confirm_slug = forms.CharField(label=gettext_lazy("For an in-place restore, type the tenant's slug"),
                                   max_length=40, required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean(self):
        data = super().clean()
        if data.get("mode") == "as_new":
            slug = (data.get("new_slug") or "").strip().lower()
            try:
                SLUG_VALIDATOR(slug)
                validate_slug_not_reserved(slug)
            except forms.ValidationError as exc:
                self.add_error("new_slug", exc)
            else:
                if Tenant.objects.filter(slug=slug).exists():
                    self.add_error("new_slug", _("A tenant with this slug exists already."))
            data["new_slug"] = slug
        elif data.get("mode") == "in_place" and (data.get("confirm_slug") or "").strip() != self.tenant.slug:
            self.add_error("confirm_slug", _("Type the slug %(slug)s to confirm.") % {"slug": self.tenant.slug})
        return data


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def tenant_backups(request, slug: str):
    from mamori.lifecycle.tenant_backup_tasks import (
        create_tenant_backup_task,
        restore_tenant_backup_task,
    )

    tenant = list_tenants_across_tenants().filter(slug=slug).first()
    if tenant is None:
        raise Http404
    staff = request.provider_staff
    allowed = staff.role in BACKUP_ROLES
    backups = list(jobs.backups_of(tenant)[:100])
    form = RestoreForm(tenant=tenant)
    status = 200
    if request.method == "POST":
        if not allowed:
            messages.error(request, _("Only operators and security officers may take or restore tenant backups."))
            return redirect("provider:tenant_backups", slug=tenant.slug)
        if request.POST.get("do") == "create":
            create_tenant_backup_task.enqueue(tenant_id=tenant.pk, requested_by=staff.email, staff_id=staff.pk)
            messages.success(request, _("The backup is queued; the worker takes it shortly."))
            return redirect("provider:tenant_backups", slug=tenant.slug)
        form = RestoreForm(request.POST, tenant=tenant)
        if form.is_valid():
            backup = next((b for b in backups if b.uuid == form.cleaned_data["backup"]
                           and b.status == b.Status.COMPLETE), None)
            if backup is None:
                form.add_error(None, _("This backup is not available."))
            else:
                restore_tenant_backup_task.enqueue(backup_id=backup.pk, mode=form.cleaned_data["mode"],
                                                   new_slug=form.cleaned_data.get("new_slug") or "",
                                                   requested_by=staff.email, staff_id=staff.pk)
                messages.success(request, _("The restore is queued; the worker runs it and writes the result to "
                                            "the provider log."))
                return redirect("provider:tenant_backups", slug=tenant.slug)
        status = 422
    return render(request, "provider/tenant_backups.html", {
        "tenant": None, "customer": tenant, "backups": backups, "form": form, "allowed": allowed,
        "keep_days": jobs.tb.keep_days(), "section": "tenants",
    }, status=status)
