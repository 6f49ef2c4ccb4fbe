"""One-time sign-in links and setting a password (thin: the work is in actions)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mamori.access.errors import NotFound
from mamori.accounts import actions
from mamori.accounts.forms import NewPasswordForm
from mamori.audit.events import Actor


@never_cache
@require_http_methods(["GET", "POST"])
def welcome(request, secret: str):
    """GET shows a button (so mail scanners that fetch links do not use them up); POST signs in."""
    if request.method == "GET":
        return render(request, "accounts/welcome.html", {"secret": secret})
    try:
        user = actions.consume_login_link(secret=secret)
    except NotFound:
        return render(request, "accounts/link_invalid.html", status=404)
    request._mamori_login_method = "login_link"
    login(request, user, backend="mamori.accounts.backends.TenantAuthenticationBackend")
    if not user.has_usable_password() or user.must_change_password:
        return redirect("accounts:set_password")
    return redirect("console:dashboard")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def set_password_view(request):
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.set_password(actor=Actor.for_user(request.user), user=request.user,
                                 password=form.cleaned_data["password1"])
        except ValidationError as exc:
            for message in exc.message_dict.get("password", []):
                form.add_error("password1", message)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been set."))
            return redirect("console:dashboard")
    return render(request, "accounts/set_password.html", {"form": form})
