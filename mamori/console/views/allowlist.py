"""Settings → Security → IP allowlist (ISMS 9.2.3). Tenant admins, re-authentication to save."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access.actions_allowlist import save_allowlist
from mamori.access.allowlist import MAX_ENTRIES, allowlist_for, split_lines
from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, actor, console_view
from mamori.core.net import client_ip

MAX_TEXT = MAX_ENTRIES * 280


class AllowlistForm(forms.Form):
    enabled = forms.BooleanField(
        label=gettext_lazy("Enforce the allowlist"), required=False,
        help_text=gettext_lazy("When on, the console, the API and SCIM of this tenant refuse every address "
                               "outside the list, sign-in pages included."))
    entries = forms.CharField(
        label=gettext_lazy("Allowed addresses and networks"), required=False, max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "mono"}),
        help_text=gettext_lazy("One per line: an IPv4 or IPv6 address or network (CIDR), then optionally a "
                               "comment. Example: 203.0.113.0/24 Tokyo office. Lines starting with # are "
                               "ignored."))
    confirm_lockout = forms.BooleanField(
        label=gettext_lazy("I understand that I may lose access from my current address"), required=False)


def _as_text(entries) -> str:
    return "\n".join(f"{e.cidr} {e.comment}".rstrip() for e in entries)


@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def ip_allowlist(request):
    current = allowlist_for(request, request.tenant)
    needs_confirmation = False
    if request.method == "POST":
        form = AllowlistForm(request.POST)
        if form.is_valid():
            lines = split_lines(form.cleaned_data["entries"])
            try:
                save_allowlist(
                    actor=actor(request), enabled=form.cleaned_data["enabled"],
                    entries=[(line.cidr, line.comment) for line in lines],
                    positions=[line.line for line in lines], label="line",
                    current_ip=client_ip(request), confirm_lockout=form.cleaned_data["confirm_lockout"])
            except ValidationError as exc:
                needs_confirmation = "confirm_lockout" in getattr(exc, "error_dict", {})
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("IP allowlist saved."))
                return redirect("console:security_ip_allowlist")
    else:
        form = AllowlistForm(initial={"enabled": current.enabled, "entries": _as_text(current.entries)})
    return render(request, "console/allowlist/settings.html", {
        "form": form, "current": current, "needs_confirmation": needs_confirmation,
        "max_entries": MAX_ENTRIES,
    })
