from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from mamori.access.roles import Perm, can
from mamori.console import queries
from mamori.console.forms import MemberAddForm, WorkspaceForm, apply_validation_error
from mamori.console.views.common import FORM, WRITE, actor, console_view
from mamori.records import actions
from mamori.records.queries import access_workspace, search_records, visible_workspaces


@console_view()
def workspace_list(request):
    return render(request, "console/workspaces/list.html", {
        "workspaces": visible_workspaces(request.user).order_by("name", "id"),
        "can_create": can(request.user, Perm.CREATE_WORKSPACE),
    })


@console_view(FORM, perm=Perm.CREATE_WORKSPACE)
def workspace_create(request):
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = actions.create_workspace(actor=actor(request), **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Workspace created."))
            return redirect("console:workspace_detail", pk=workspace.pk)
    return render(request, "console/workspaces/form.html", {"form": form, "workspace": None})


@console_view()
def workspace_detail(request, pk: int):
    workspace = access_workspace(request.user, pk)
    manage = can(request.user, Perm.MANAGE_WORKSPACES)
    return render(request, "console/workspaces/detail.html", {
        "workspace": workspace,
        "records": search_records(request.user, workspace_id=workspace.pk)[:100],
        "members": queries.workspace_members(request.user, workspace),
        "member_form": MemberAddForm(users=queries.users_not_in_workspace(workspace)) if manage else None,
        "can_manage": manage,
        "can_edit": can(request.user, Perm.EDIT_RECORDS),
    })


@console_view(FORM, perm=Perm.EDIT_RECORDS)
def workspace_edit(request, pk: int):
    workspace = access_workspace(request.user, pk, for_write=True)
    initial = {"name": workspace.name, "description": workspace.description}
    form = WorkspaceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_workspace(actor=actor(request), workspace_id=workspace.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Workspace saved."))
            return redirect("console:workspace_detail", pk=workspace.pk)
    return render(request, "console/workspaces/form.html", {"form": form, "workspace": workspace})


@console_view(FORM, perm=Perm.MANAGE_WORKSPACES)
def workspace_delete(request, pk: int):
    workspace = access_workspace(request.user, pk)
    errors: list[str] = []
    if request.method == "POST":
        try:
            actions.delete_workspace(actor=actor(request), workspace_id=workspace.pk)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("Workspace deleted."))
            return redirect("console:workspaces")
    return render(request, "console/confirm_delete.html", {
        "object_kind": _("workspace"), "object_name": workspace.name, "errors": errors,
        "cancel_url": reverse("console:workspace_detail", kwargs={"pk": workspace.pk}),
    })


@console_view(WRITE, perm=Perm.MANAGE_WORKSPACES)
def workspace_member_add(request, pk: int):
    workspace = access_workspace(request.user, pk)
    form = MemberAddForm(request.POST, users=queries.users_not_in_workspace(workspace))
    if form.is_valid():
        actions.add_workspace_member(actor=actor(request), workspace_id=workspace.pk,
                                     user_id=form.cleaned_data["user"])
        messages.success(request, _("Member added."))
    else:
        messages.error(request, _("Choose a user to add."))
    return redirect("console:workspace_detail", pk=workspace.pk)


@console_view(WRITE, perm=Perm.MANAGE_WORKSPACES)
def workspace_member_remove(request, pk: int, user_id: int):
    workspace = access_workspace(request.user, pk)
    actions.remove_workspace_member(actor=actor(request), workspace_id=workspace.pk, user_id=user_id)
    messages.success(request, _("Member removed."))
    return redirect("console:workspace_detail", pk=workspace.pk)
