"""Settings → Security → SCIM provisioning: the endpoint URL and the tenant's SCIM tokens."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from mamori.access.roles import Perm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, WRITE, actor, console_view
from mamori.scim import actions
from mamori.scim.actions import MAX_TOKEN_DAYS
from mamori.scim.models import SCIM_DEFAULT_ROLES
from mamori.scim.queries import scim_tokens


class ScimTokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100,
                           help_text=gettext_lazy("Which identity provider uses it, for example “Entra ID”."))
    default_role = forms.ChoiceField(
        label=gettext_lazy("Role of new users"), choices=[(r.value, r.label) for r in SCIM_DEFAULT_ROLES],
        help_text=gettext_lazy("Users created through SCIM get this role; change roles in the console."))
    expires_in_days = forms.IntegerField(
        label=gettext_lazy("Expires after (days)"), min_value=1, max_value=MAX_TOKEN_DAYS, required=False,
        initial=365, help_text=gettext_lazy("Leave empty for a token that does not expire."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


def scim_base_url() -> str:
    return f"{settings.BASE_URL.rstrip('/')}/scim/v2"


def _page(request, form: ScimTokenForm, status: int = 200):
    return render(request, "console/scim/page.html", {
        "form": form,
        "tokens": scim_tokens(),
        "base_url": scim_base_url(),
    }, status=status)


@console_view(perm=Perm.MANAGE_SECURITY)
def security_scim(request):
    return _page(request, ScimTokenForm())


@never_cache
@console_view(FORM, perm=Perm.MANAGE_SECURITY, reauth=True)
def security_scim_create(request):
    if request.method != "POST":
        return _page(request, ScimTokenForm())
    form = ScimTokenForm(request.POST)
    if form.is_valid():
        try:
            token, raw = actions.create_scim_token(
                actor=actor(request), name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                default_role=form.cleaned_data["default_role"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            # Shown on this response only: the token is stored hashed and never again readable.
            return render(request, "console/scim/created.html",
                          {"token": token, "raw_token": raw, "base_url": scim_base_url()})
    return _page(request, form, status=400)


@console_view(WRITE, perm=Perm.MANAGE_SECURITY, reauth=True)
def security_scim_revoke(request, pk: int):
    token = actions.revoke_scim_token(actor=actor(request), token_id=pk)
    messages.success(request, _("SCIM token “%(name)s” revoked.") % {"name": token.name})
    return redirect("console:security_scim")
