"""One-time sign-in links, invitations, setting and changing a password (thin: the work is in actions)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from mamori.access.errors import NotFound
from mamori.accounts import actions
from mamori.accounts.forms import ChangePasswordForm, InvitationForm, NewPasswordForm
from mamori.audit.events import Actor
from mamori.core.forms import error_messages


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
            _form_errors(form, exc, {"password": "password1"})
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been set."))
            return redirect("console:dashboard")
    return render(request, "accounts/set_password.html", {"form": form})


def _form_errors(form, exc: ValidationError, fields: dict[str, str]) -> None:
    """An action's field errors onto the form (``fields`` maps action field → form field)."""
    for field, messages_ in error_messages(exc).items():
        for message in messages_:
            form.add_error(fields.get(field), message)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def invitation(request, secret: str):
    """GET shows the registration form and never uses the link (mail scanners fetch links);
    POST sets the password, uses the link up and signs the invitee in. A reused, expired,
    revoked or tampered link is a clear page that changes nothing."""
    try:
        pending = actions.find_invitation(secret)
    except NotFound:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = InvitationForm(request.POST or None, initial={"name": pending.user.name})
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.accept_invitation(secret=secret, password=form.cleaned_data["password1"],
                                             name=form.cleaned_data["name"])
        except NotFound:
            return render(request, "accounts/invitation_invalid.html", status=404)
        except ValidationError as exc:
            _form_errors(form, exc, {"password": "password1", "name": "name"})
        else:
            request._mamori_login_method = "invitation"
            login(request, user, backend="mamori.accounts.backends.TenantAuthenticationBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("console:dashboard")
    return render(request, "accounts/invitation.html", {"form": form, "invited_user": pending.user,
                                                        "expires_at": pending.expires_at})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_password_view(request):
    """The user's own change; the current password is asked, every other session ends."""
    form = ChangePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_password(actor=Actor.for_user(request.user), user=request.user,
                                    current_password=form.cleaned_data["current_password"],
                                    password=form.cleaned_data["password1"])
        except ValidationError as exc:
            _form_errors(form, exc, {"password": "password1", "current_password": "current_password"})
        else:
            request.user.refresh_from_db()
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been changed. Your other sessions were signed out."))
            return redirect("accounts:change_password")
    return render(request, "accounts/change_password.html", {"form": form})


@login_required
@require_http_methods(["POST"])
def end_my_sessions(request):
    """Sign out of every other browser and device; this session stays signed in."""
    user = actions.end_sessions(actor=Actor.for_user(request.user), user=request.user)
    update_session_auth_hash(request, user)
    messages.success(request, _("You were signed out of every other session."))
    return redirect("accounts:change_password")
