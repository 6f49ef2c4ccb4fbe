"""User administration: list, invite, create, detail, edit, suspend/reactivate, delete,
end sessions, re-send or cancel an invitation.

Views parse and render only; ``mamori.accounts.actions`` decide. Tenant admins see
everyone; unit admins only the users of their units (others are 404, and the
attempt is recorded); everyone else lacks ``users.view``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from mamori.access.roles import Perm, Role, can
from mamori.accounts import actions, queries
from mamori.accounts.forms import CreateUserForm, EditUserForm, InviteUserForm, UserFilterForm
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import (
    FORM,
    READ,
    WRITE,
    actor,
    console_view,
    require_recent_reauthentication,
)


def _form_kwargs(request) -> dict:
    return {"roles": queries.grantable_roles(request.user), "units": queries.assignable_units(request.user)}


@console_view(READ, perm=Perm.VIEW_USERS)
def user_list(request):
    filters = UserFilterForm(request.GET or None, roles=queries.grantable_roles(request.user),
                             units=queries.assignable_units(request.user))
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    users = list(queries.user_list(request.user, status=cleaned.get("status") or "",
                                   role=cleaned.get("role") or "", unit=cleaned.get("unit"))[:1000])
    for user in users:
        user.status = queries.status_of(user)
    return render(request, "console/users/list.html", {
        "users": users, "filters": filters, "can_manage": can(request.user, Perm.MANAGE_USERS),
    })


def _reauthenticate_to_grant(request, role: str) -> None:
    """Giving an admin role is privilege-raising: it needs a recent re-authentication."""
    if role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN):
        require_recent_reauthentication(request)


@never_cache
@console_view(FORM, perm=Perm.MANAGE_USERS)
def user_invite(request):
    form = InviteUserForm(request.POST or None, **_form_kwargs(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _reauthenticate_to_grant(request, data["role"])
        try:
            invitation = actions.invite_user(actor=actor(request), email=data["email"], name=data["name"],
                                             role=data["role"], unit_ids=data.get("unit_ids") or (),
                                             language=data["language"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.user.email})
            return redirect("console:user_detail", user_id=invitation.user_id)
    return render(request, "console/users/form.html", {"form": form, "mode": "invite"})


@never_cache
@console_view(FORM, perm=Perm.MANAGE_USERS)
def user_create(request):
    form = CreateUserForm(request.POST or None, **_form_kwargs(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _reauthenticate_to_grant(request, data["role"])
        try:
            user = actions.create_user(actor=actor(request), email=data["email"], name=data["name"],
                                       role=data["role"], password=data["password"],
                                       unit_ids=data.get("unit_ids") or (), language=data["language"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("User %(email)s created. They must change the initial password "
                                        "at first sign-in.") % {"email": user.email})
            return redirect("console:user_detail", user_id=user.pk)
    return render(request, "console/users/form.html", {"form": form, "mode": "create"})


@console_view(READ, perm=Perm.VIEW_USERS)
def user_detail(request, user_id: int):
    user = queries.access_user(request.user, user_id)
    return render(request, "console/users/detail.html", {
        "subject": user,
        "status": queries.status_of(user),
        "units": queries.user_units(user),
        "invitation": queries.pending_invitation(user) if user.is_invited else None,
        "tokens": queries.user_tokens(user),
        "can_manage": queries.can_manage(request.user, user),
        "is_self": user.pk == request.user.pk,
    })


@never_cache
@console_view(FORM, perm=Perm.MANAGE_USERS, reauth=True)
def user_edit(request, user_id: int):
    user = queries.access_user(request.user, user_id)
    initial = {"name": user.name, "role": user.role, "language": user.language,
               "unit_ids": list(queries.user_units(user).values_list("pk", flat=True))}
    form = EditUserForm(request.POST or None, initial=initial, **_form_kwargs(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.update_user(actor=actor(request), user=user_id, name=data["name"], role=data["role"],
                                unit_ids=data.get("unit_ids") if "unit_ids" in form.fields else None,
                                language=data["language"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("console:user_detail", user_id=user_id)
    return render(request, "console/users/form.html", {"form": form, "mode": "edit", "subject": user})


def _write(request, user_id: int, run, done: str):
    """Run a POST-only action; a refusal with a reason (last admin …) comes back as a message."""
    try:
        run(actor=actor(request), user=user_id)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("console:user_detail", user_id=user_id)


@console_view(WRITE, perm=Perm.MANAGE_USERS, reauth=True)
def user_suspend(request, user_id: int):
    return _write(request, user_id, actions.suspend_user,
                  _("User suspended: their sessions and API tokens no longer work."))


@console_view(WRITE, perm=Perm.MANAGE_USERS)
def user_reactivate(request, user_id: int):
    return _write(request, user_id, actions.reactivate_user, _("User reactivated."))


@console_view(WRITE, perm=Perm.MANAGE_USERS)
def user_end_sessions(request, user_id: int):
    return _write(request, user_id, actions.end_sessions, _("The user was signed out everywhere."))


@console_view(WRITE, perm=Perm.MANAGE_USERS)
def user_invitation_resend(request, user_id: int):
    return _write(request, user_id, actions.resend_invitation,
                  _("A new invitation was sent; earlier links no longer work."))


@console_view(WRITE, perm=Perm.MANAGE_USERS)
def user_invitation_cancel(request, user_id: int):
    try:
        actions.cancel_invitation(actor=actor(request), user=user_id)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("console:user_detail", user_id=user_id)
    messages.success(request, _("Invitation cancelled."))
    return redirect("console:users")


@never_cache
@console_view(FORM, perm=Perm.MANAGE_USERS, reauth=True)
def user_delete(request, user_id: int):
    user = queries.access_user(request.user, user_id)
    errors: list[str] = []
    if request.method == "POST":
        try:
            actions.delete_user(actor=actor(request), user=user_id)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("User %(email)s deleted.") % {"email": user.email})
            return redirect("console:users")
    return render(request, "console/users/delete.html", {
        "subject": user, "errors": errors,
        "cancel_url": reverse("console:user_detail", kwargs={"user_id": user_id}),
    })
