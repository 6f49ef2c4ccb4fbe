"""Settings → Data: the overview of the data pages and the contract termination (CLD.8.1.5).

A tenant admin terminates the tenant's contract here: a fresh re-authentication and the
tenant's identifier typed as confirmation. During the grace period the page shows when the
data will be deleted and links to the export.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, actor, console_view
from mamori.lifecycle import termination as term
from mamori.lifecycle.actions_termination import request_termination


class TerminationForm(forms.Form):
    confirm_slug = forms.CharField(label=gettext_lazy("Type the tenant's identifier to confirm"), max_length=40)
    reason = forms.CharField(label=gettext_lazy("Reason (optional)"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))


@console_view(perm=Perm.MANAGE_SECURITY)
def data_overview(request):
    """One page linking every data page of the tenant (export, termination, …)."""
    from mamori.console.settings_pages import DATA_PAGES

    return render(request, "console/data/overview.html", {"pages": DATA_PAGES})


@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def data_termination(request):
    tenant = request.tenant
    form = TerminationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            request_termination(actor=actor(request), confirm_slug=form.cleaned_data["confirm_slug"],
                                reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("The contract is terminated. The grace period has started; export your "
                                        "data before it ends."))
            return redirect("console:data_termination")
    termination = term.open_termination(tenant)
    return render(request, "console/data/termination.html", {
        "form": form,
        "termination": termination,
        "days_left": term.days_left(termination) if termination else None,
        "grace_days": term.grace_days_for(tenant),
        "reminder_days": term.reminder_days(),
    }, status=422 if form.errors else 200)
