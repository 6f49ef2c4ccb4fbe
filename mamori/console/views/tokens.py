from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from mamori.access.roles import Perm, can
from mamori.accounts import actions
from mamori.console import queries
from mamori.console.forms import TokenForm, apply_validation_error
from mamori.console.views.common import FORM, WRITE, actor, console_view


@console_view()
def token_list(request):
    return render(request, "console/tokens/list.html", {
        "tokens": queries.my_api_tokens(request.user),
        "can_create": can(request.user, Perm.USE_API),
    })


@never_cache
# A new credential: the password must have been entered recently (revoking only removes access).
@console_view(FORM, perm=Perm.USE_API, reauth=True)
def token_create(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = actions.create_api_token(
                actor=actor(request), user=request.user, name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            # Shown on this response only: the token is stored hashed and never again readable.
            return render(request, "console/tokens/created.html", {"token": token, "raw_token": raw})
    return render(request, "console/tokens/form.html", {"form": form})


@console_view(WRITE)
def token_revoke(request, pk: int):
    token = actions.revoke_api_token(actor=actor(request), token_id=pk)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("console:tokens")
