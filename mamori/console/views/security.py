"""Security settings: the overview of every security page and the password policy (ISMS 9.2.3, 9.2.4)."""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mamori.access.roles import Perm
from mamori.accounts.actions_policy import update_password_policy
from mamori.accounts.policy import (
    PRESETS,
    Policy,
    asvs_notes,
    clean_policy,
    policy_for_tenant,
    preset,
)
from mamori.accounts.policy_forms import PasswordPolicyForm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, actor, console_view


@console_view(perm=Perm.MANAGE_SECURITY)
def security_overview(request):
    """One page linking every security setting of the tenant (MFA, sessions, allowlist, SSO, …)."""
    from mamori.console.settings_pages import SECURITY_PAGES

    return render(request, "console/security/overview.html", {"pages": SECURITY_PAGES})


def _shown_policy(form: PasswordPolicyForm, fallback: Policy) -> Policy:
    """The policy a submitted form describes (for the ASVS notes beside each choice)."""
    if form.is_valid():
        try:
            return clean_policy(form.policy_fields())
        except ValidationError:
            pass
    return fallback


@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def password_policy(request):
    saved = policy_for_tenant(request.tenant)
    chosen = preset(request.GET.get("preset", "")) if request.method != "POST" else None
    if request.method == "POST":
        form = PasswordPolicyForm(request.POST)
        if form.is_valid():
            try:
                update_password_policy(actor=actor(request), **form.policy_fields())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Password policy saved."))
                return redirect("console:password_policy")
        shown = _shown_policy(form, saved)
    else:
        # A preset sets the rules; the tenant's own banned words stay.
        shown = dataclasses.replace(chosen.policy, banned_words=saved.banned_words) if chosen else saved
        form = PasswordPolicyForm(initial=PasswordPolicyForm.initial_for(shown))
    notes = asvs_notes(shown)
    return render(request, "console/security/password_policy.html", {
        "form": form,
        "rows": [(field, notes.get(field.name)) for field in form],
        "presets": [{"slug": p.slug, "title": p.title, "description": p.description,
                     "notes": list(asvs_notes(p.policy).values())} for p in PRESETS],
        "chosen": chosen,
    })
