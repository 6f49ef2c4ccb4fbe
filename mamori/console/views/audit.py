"""Operation log search (audit.view) and event detail with a field diff ("My sign-ins": signins.py)."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import Perm
from mamori.audit import queries
from mamori.audit.registry import EVENT_TYPES
from mamori.console.forms import apply_validation_error
from mamori.console.views.common import console_view

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S")


class AuditSearchForm(forms.Form):
    """Filters of the operation log. Times are read in the tenant's time zone (the active one)."""

    text = forms.CharField(label=_("Search"), required=False, max_length=queries.MAX_TEXT,
                           help_text=_("Part of an actor, a target or an action name."))
    actor = forms.CharField(label=_("Actor"), required=False, max_length=254,
                            help_text=_("User id or part of an e-mail address."))
    action = forms.CharField(label=_("Action"), required=False, max_length=80,
                             help_text=_("An event name, or a prefix such as record."),
                             widget=forms.TextInput(attrs={"list": "audit-actions"}))
    target_type = forms.CharField(label=_("Target type"), required=False, max_length=64)
    target_id = forms.CharField(label=_("Target id"), required=False, max_length=64)
    target = forms.CharField(label=_("Target"), required=False, max_length=queries.MAX_TEXT)
    since = forms.DateTimeField(label=_("From"), required=False, widget=DATETIME_INPUT)
    until = forms.DateTimeField(label=_("Until"), required=False, widget=DATETIME_INPUT)
    ip = forms.CharField(label=_("IP address or network"), required=False, max_length=64,
                         help_text=_("e.g. 192.0.2.10 or 192.0.2.0/24"))
    before = forms.CharField(required=False, max_length=120, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["filters"] = queries.clean_filters(queries.AuditFilters(
                **{name: data.get(name) or ("" if name not in ("since", "until") else None)
                   for name in ("text", "actor", "action", "target_type", "target_id", "target",
                                "since", "until", "ip")}))
            data["cursor"] = queries.decode_cursor(data["before"]) if data.get("before") else None
        except ValidationError as exc:
            apply_validation_error(self, exc)
        return data


@console_view(perm=Perm.VIEW_AUDIT)
def audit_list(request):
    form = AuditSearchForm(request.GET or None)
    page = None
    if not request.GET:
        page = queries.search_events(request.user, queries.AuditFilters())
    elif form.is_valid():
        page = queries.search_events(request.user, form.cleaned_data["filters"],
                                     before=form.cleaned_data["cursor"])
    next_query = None
    if page is not None and page.next_cursor is not None:
        query = request.GET.copy()
        query["before"] = page.next_cursor
        next_query = query.urlencode()
    first_query = request.GET.copy()
    first_query.pop("before", None)
    return render(request, "console/audit/list.html", {
        "form": form, "events": page.events if page else [], "next_query": next_query,
        "first_query": first_query.urlencode(), "is_first_page": not request.GET.get("before"),
        "event_names": sorted(EVENT_TYPES), "has_errors": page is None,
    })


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@console_view(perm=Perm.VIEW_AUDIT)
def audit_event(request, pk: int):
    event = queries.access_event(request.user, pk)
    changes = [(change.field, _shown(change.before), _shown(change.after), change.before != change.after)
               for change in queries.event_changes(event)]
    return render(request, "console/audit/detail.html", {"event": event, "changes": changes})
