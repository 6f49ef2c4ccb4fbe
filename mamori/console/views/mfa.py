"""MFA in the console: the tenant's MFA policy (Settings → Security → Two-factor
authentication) and the admin's "Reset two-factor authentication" button on a user's page.
Each user's own methods are managed on allauth's pages (``/accounts/2fa/``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, WRITE, actor, console_view
from mamori.console.views.users import _write
from mamori.multifactor.actions import reset_mfa, update_mfa_policy
from mamori.multifactor.models import MfaRequirement
from mamori.multifactor.policy import requirement_for_tenant


class MfaPolicyForm(forms.Form):
    requirement = forms.ChoiceField(label=gettext_lazy("Who must use two-factor authentication"),
                                    choices=MfaRequirement.choices, widget=forms.RadioSelect)


@never_cache
@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def security_mfa(request):
    if request.method == "POST":
        form = MfaPolicyForm(request.POST)
        if form.is_valid():
            try:
                update_mfa_policy(actor=actor(request), requirement=form.cleaned_data["requirement"])
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("MFA policy saved."))
                return redirect("console:security_mfa")
    else:
        form = MfaPolicyForm(initial={"requirement": requirement_for_tenant(request.tenant)})
    return render(request, "console/mfa/policy.html", {"form": form})


@console_view(WRITE, perm=Perm.MANAGE_USERS, reauth=True)
def user_reset_mfa(request, user_id: int):
    return _write(request, user_id, reset_mfa,
                  _("Two-factor authentication reset: the user was signed out and sets it up again."))
