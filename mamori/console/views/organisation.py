"""Settings → Organisation: the tenant's notification address, and where its data lives
(data region, storage targets, sub-processors; 6.1.3, 15.1.3). Tenant admins only; saving
the address needs a fresh re-authentication like every security setting."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, actor, console_view
from mamori.core import provider_profile as profile
from mamori.notices.actions import set_notification_email
from mamori.notices.forms import NotificationEmailForm
from mamori.tenancy.contacts import tenant_contacts


def _text(value) -> str:
    """A profile value that may be ``{ja, en}`` in the active language."""
    if isinstance(value, dict):
        from django.utils.translation import get_language

        lang = (get_language() or "ja")[:2]
        return str(value.get(lang) or value.get("en") or value.get("ja") or "")
    return "" if value is None else str(value)


def data_location(tenant) -> dict:
    """The tenant's region resolved against the provider profile, with storage targets and
    sub-processors (names of regions resolved too). Missing profile data stays missing."""
    regions = {str(r.get("id", "")): r for r in profile.regions()}

    def region(region_id) -> dict:
        found = regions.get(str(region_id or ""))
        return {"id": region_id or "", "known": found is not None,
                "name": _text(found.get("name")) if found else "", "location": _text(found.get("location")) if found else ""}

    return {
        "region": region(tenant.data_region),
        "storage_targets": [{"name": _text(t.get("name")), "kind": _text(t.get("kind")), "region": region(t.get("region"))}
                            for t in profile.storage_targets()],
        "subprocessors": [{"name": _text(s.get("name")), "purpose": _text(s.get("purpose")),
                           "region": region(s.get("region")), "url": _text(s.get("url"))}
                          for s in profile.subprocessors()],
    }


@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def organisation(request):
    tenant = request.tenant
    form = NotificationEmailForm(request.POST or None, initial={"notification_email": tenant.notification_email})
    if request.method == "POST" and form.is_valid():
        try:
            set_notification_email(actor=actor(request), email=form.cleaned_data["notification_email"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Notification address saved."))
            return redirect("console:organisation")
    try:
        location = data_location(tenant)
        profile_error = ""
    except profile.ProfileError:
        location, profile_error = None, _("The provider's profile cannot be read; ask the provider.")
    return render(request, "console/organisation/organisation.html", {
        "form": form, "contacts": tenant_contacts(tenant), "location": location, "profile_error": profile_error,
    }, status=422 if form.errors else 200)
