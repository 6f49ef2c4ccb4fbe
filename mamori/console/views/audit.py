from __future__ import annotations

import json

from django.shortcuts import render

from mamori.access.roles import Perm
from mamori.audit.registry import EVENT_TYPES
from mamori.console import queries
from mamori.console.forms import AuditFilterForm
from mamori.console.views.common import console_view


@console_view(perm=Perm.VIEW_AUDIT)
def audit_list(request):
    form = AuditFilterForm(request.GET or None, event_types=EVENT_TYPES.values())
    filters = form.cleaned_data if form.is_valid() else {}
    page = queries.audit_events(request.user, action=filters.get("action", ""),
                                actor=filters.get("actor", ""), before=filters.get("before"))
    next_query = None
    if page.next_cursor is not None:
        query = request.GET.copy()
        query["before"] = str(page.next_cursor)
        next_query = query.urlencode()
    first_query = request.GET.copy()
    first_query.pop("before", None)
    return render(request, "console/audit/list.html", {
        "form": form, "events": page.events, "next_query": next_query,
        "first_query": first_query.urlencode(), "is_first_page": not filters.get("before"),
    })


def _pretty(value) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@console_view(perm=Perm.VIEW_AUDIT)
def audit_event(request, pk: int):
    event = queries.access_audit_event(request.user, pk)
    return render(request, "console/audit/detail.html", {
        "event": event, "before_json": _pretty(event.before), "after_json": _pretty(event.after),
    })
