"""Organizational units: the tree, a unit's members and unit admins, create/edit/move/delete.

Tenant admins manage units and unit admins; a unit admin sees the units they
administer (and the units below) and may change their members, for users they
manage. The actions in ``mamori.access.actions`` decide; these views parse and render.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access import actions
from mamori.access.errors import NotFound
from mamori.access.queries import (
    access_unit,
    admin_candidates,
    admin_scopes,
    direct_member_ids,
    inherited_admin_scopes,
    member_candidates,
    unit_members,
    unit_paths,
    unit_tree,
    visible_unit_ids,
    visible_units,
)
from mamori.access.roles import Perm, can
from mamori.access.scope import can_manage_user, descendant_unit_ids
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import FORM, READ, WRITE, actor, console_view, require_perm

TOP = ""


class UnitForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    code = forms.CharField(label=gettext_lazy("Code"), max_length=64, required=False,
                           help_text=gettext_lazy("Optional identifier used in CSV files, like SALES-TOKYO."))
    parent = forms.ChoiceField(label=gettext_lazy("Parent unit"), required=False)

    def __init__(self, *args, parents=(), with_parent: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if with_parent:
            self.fields["parent"].choices = [(TOP, gettext_lazy("— Top level (organization) —")), *parents]
        else:
            del self.fields["parent"]


class MoveForm(forms.Form):
    parent = forms.ChoiceField(label=gettext_lazy("New parent unit"), required=False)

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [(TOP, gettext_lazy("— Top level (organization) —")), *parents]


class UserChoiceForm(forms.Form):
    user_id = forms.TypedChoiceField(label=gettext_lazy("User"), coerce=int)

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_id"].choices = [(u.pk, f"{u.display_name} <{u.email}>") for u in users]


def _parent_choices(user, exclude: set[int] = frozenset()) -> list[tuple[str, str]]:
    paths = unit_paths()
    ids = visible_unit_ids(user)
    return sorted(((str(pk), path) for pk, path in paths.items()
                   if (ids is None or pk in ids) and pk not in exclude), key=lambda item: item[1])


def _require_units_access(request) -> None:
    """The unit pages are for tenant admins and unit admins."""
    if not (can(request.user, Perm.MANAGE_UNITS) or can(request.user, Perm.MANAGE_USERS)):
        require_perm(request, Perm.MANAGE_UNITS)


@console_view(READ)
def unit_list(request):
    _require_units_access(request)
    return render(request, "console/units/list.html", {
        "nodes": unit_tree(request.user),
        "can_manage": can(request.user, Perm.MANAGE_UNITS),
    })


@console_view(FORM, perm=Perm.MANAGE_UNITS)
def unit_create(request):
    initial = {"parent": request.GET.get("parent", TOP)}
    form = UnitForm(request.POST or None, initial=initial, parents=_parent_choices(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            unit = actions.create_unit(actor=actor(request), name=data["name"], code=data["code"],
                                       parent_id=int(data["parent"]) if data["parent"] else None)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Unit created."))
            return redirect("console:unit_detail", pk=unit.pk)
    return render(request, "console/units/form.html", {"form": form, "unit": None})


def _detail_context(request, unit, **forms_) -> dict:
    manage = can(request.user, Perm.MANAGE_UNITS)
    include_descendants = request.GET.get("all") == "1"
    members = list(unit_members(request.user, unit.pk, include_descendants=include_descendants))
    direct = direct_member_ids(unit)
    return {
        "unit": unit,
        "path": unit_paths().get(unit.pk, unit.name),
        "children": visible_units(request.user).filter(parent=unit).order_by("name", "id"),
        "members": [{"user": m, "direct": m.pk in direct,
                     "can_remove": m.pk in direct and (manage or can_manage_user(request.user, m))}
                    for m in members],
        "include_descendants": include_descendants,
        "admins": admin_scopes(unit),
        "inherited_admins": inherited_admin_scopes(unit),
        "can_manage": manage,
        "member_form": forms_.get("member_form") or UserChoiceForm(users=member_candidates(request.user, unit)),
        "admin_form": (forms_.get("admin_form") or UserChoiceForm(users=admin_candidates(unit))) if manage else None,
    }


@console_view(READ)
def unit_detail(request, pk: int):
    _require_units_access(request)
    unit = access_unit(request.user, pk)
    return render(request, "console/units/detail.html", _detail_context(request, unit))


@console_view(FORM, perm=Perm.MANAGE_UNITS)
def unit_edit(request, pk: int):
    unit = access_unit(request.user, pk)
    form = UnitForm(request.POST or None, initial={"name": unit.name, "code": unit.code}, with_parent=False)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_unit(actor=actor(request), unit_id=unit.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Unit saved."))
            return redirect("console:unit_detail", pk=unit.pk)
    return render(request, "console/units/form.html", {"form": form, "unit": unit})


@console_view(FORM, perm=Perm.MANAGE_UNITS)
def unit_move(request, pk: int):
    unit = access_unit(request.user, pk)
    parents = _parent_choices(request.user, exclude=descendant_unit_ids([unit.pk]))
    form = MoveForm(request.POST or None, initial={"parent": str(unit.parent_id or TOP)}, parents=parents)
    if request.method == "POST" and form.is_valid():
        parent = form.cleaned_data["parent"]
        try:
            actions.move_unit(actor=actor(request), unit_id=unit.pk, parent_id=int(parent) if parent else None)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Unit moved."))
            return redirect("console:unit_detail", pk=unit.pk)
    return render(request, "console/units/move.html", {"form": form, "unit": unit})


@console_view(FORM, perm=Perm.MANAGE_UNITS)
def unit_delete(request, pk: int):
    unit = access_unit(request.user, pk)
    errors: list[str] = []
    if request.method == "POST":
        try:
            actions.delete_unit(actor=actor(request), unit_id=unit.pk)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("Unit deleted."))
            return redirect("console:units")
    return render(request, "console/confirm_delete.html", {
        "object_kind": _("organizational unit"), "object_name": unit.name, "errors": errors,
        "cancel_url": reverse("console:unit_detail", kwargs={"pk": unit.pk}),
    })


def _user_form_post(request, unit, *, users, action_fn, success: str, form_key: str):
    form = UserChoiceForm(request.POST, users=users)
    if form.is_valid():
        try:
            action_fn(actor=actor(request), unit_id=unit.pk, user_id=form.cleaned_data["user_id"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        except NotFound:
            form.add_error("user_id", _("Unknown user."))
        else:
            messages.success(request, success)
            return redirect("console:unit_detail", pk=unit.pk)
    response = render(request, "console/units/detail.html", _detail_context(request, unit, **{form_key: form}))
    response.status_code = 422
    return response


@console_view(WRITE)
def unit_member_add(request, pk: int):
    _require_units_access(request)
    unit = access_unit(request.user, pk)
    return _user_form_post(request, unit, users=member_candidates(request.user, unit), action_fn=actions.add_unit_member,
                           success=_("Member added."), form_key="member_form")


@console_view(WRITE)
def unit_member_remove(request, pk: int, user_id: int):
    _require_units_access(request)
    unit = access_unit(request.user, pk)
    actions.remove_unit_member(actor=actor(request), unit_id=unit.pk, user_id=user_id)
    messages.success(request, _("Member removed."))
    return redirect("console:unit_detail", pk=unit.pk)


@console_view(WRITE, perm=Perm.MANAGE_UNITS, reauth=True)
def unit_admin_add(request, pk: int):
    require_perm(request, Perm.GRANT_ADMIN)
    unit = access_unit(request.user, pk)
    return _user_form_post(request, unit, users=admin_candidates(unit), action_fn=actions.assign_unit_admin,
                           success=_("Unit admin assigned."), form_key="admin_form")


@console_view(WRITE, perm=Perm.MANAGE_UNITS)
def unit_admin_remove(request, pk: int, user_id: int):
    require_perm(request, Perm.GRANT_ADMIN)
    unit = access_unit(request.user, pk)
    actions.remove_unit_admin(actor=actor(request), unit_id=unit.pk, user_id=user_id)
    messages.success(request, _("Unit admin removed."))
    return redirect("console:unit_detail", pk=unit.pk)
