from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.vary import vary_on_headers

from mamori.access.roles import Perm, can
from mamori.console import queries
from mamori.console.forms import (
    RecordFilterForm,
    RecordForm,
    apply_validation_error,
    format_properties,
)
from mamori.console.views.common import FORM, actor, console_view
from mamori.records import actions
from mamori.records.queries import access_record, search_records, visible_workspaces

PAGE_SIZE = 50


@console_view()
@vary_on_headers("HX-Request")
def record_list(request):
    user = request.user
    workspaces = list(visible_workspaces(user).order_by("name", "id"))
    labels = list(queries.labels(user))
    form = RecordFilterForm(request.GET or None, workspaces=workspaces, labels=labels)
    filters = form.cleaned_data if form.is_valid() else {}
    records = search_records(user, text=filters.get("q", ""), label_ids=filters.get("label") or [],
                             workspace_id=filters.get("workspace"))
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form, "page": page, "records": page.object_list, "query": query.urlencode(),
        "can_create": can(user, Perm.EDIT_RECORDS) and bool(workspaces),
    }
    partial = bool(request.htmx) and not request.htmx.history_restore_request \
        and request.htmx.target == "record-results"
    template = "console/records/_results.html" if partial else "console/records/list.html"
    return render(request, template, context)


@console_view()
def record_detail(request, pk: int):
    from mamori.console.views.record_reviews import review_context

    record = access_record(request.user, pk)
    return render(request, "console/records/detail.html", {
        **record_detail_context(request, record), **review_context(request, record),
    })


def record_detail_context(request, record) -> dict:
    return {
        "record": record,
        "labels": list(record.labels.all()),
        "can_edit": can(request.user, Perm.EDIT_RECORDS),
    }


def _record_form(request, *, data=None, initial=None, with_workspace=True):
    user = request.user
    return RecordForm(
        data, initial=initial,
        workspaces=visible_workspaces(user).order_by("name", "id") if with_workspace else None,
        labels=queries.labels(user), allow_restricted=can(user, Perm.VIEW_RESTRICTED),
        with_workspace=with_workspace,
    )


@console_view(FORM, perm=Perm.EDIT_RECORDS)
def record_create(request):
    initial = {"workspace": request.GET.get("workspace", "")}
    form = _record_form(request, data=request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            record = actions.create_record(
                actor=actor(request), workspace_id=data["workspace"], title=data["title"],
                body=data["body"], properties=data["properties"],
                classification=data["classification"], label_ids=data["labels"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Record created."))
            return redirect("console:record_detail", pk=record.pk)
    return render(request, "console/records/form.html", {"form": form, "record": None})


@console_view(FORM, perm=Perm.EDIT_RECORDS)
def record_edit(request, pk: int):
    record = access_record(request.user, pk, for_write=True)
    initial = {
        "title": record.title, "body": record.body, "classification": record.classification,
        "labels": [label.pk for label in record.labels.all()],
        "properties": format_properties(record.properties),
    }
    form = _record_form(request, data=request.POST or None, initial=initial, with_workspace=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {"title": data["title"], "body": data["body"], "classification": data["classification"],
                   "label_ids": data["labels"]}
        if data["properties"] is not None:  # None: the user left the properties unchanged
            changes["properties"] = data["properties"]
        try:
            actions.update_record(actor=actor(request), record_id=record.pk, **changes)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Record saved."))
            return redirect("console:record_detail", pk=record.pk)
    return render(request, "console/records/form.html", {"form": form, "record": record})


@console_view(FORM, perm=Perm.EDIT_RECORDS)
def record_delete(request, pk: int):
    record = access_record(request.user, pk, for_write=True)
    errors: list[str] = []
    if request.method == "POST":
        try:
            actions.delete_record(actor=actor(request), record_id=record.pk)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("Record deleted."))
            return redirect("console:records")
    return render(request, "console/confirm_delete.html", {
        "object_kind": _("record"), "object_name": record.title, "errors": errors,
        "cancel_url": reverse("console:record_detail", kwargs={"pk": record.pk}),
    })
