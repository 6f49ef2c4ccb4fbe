from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import Perm, can
from mamori.console import queries
from mamori.console.views.common import console_view
from mamori.records.queries import visible_records, visible_workspaces

SIGN_IN_METHODS = {"password": _("Password"), "login_link": _("One-time sign-in link")}


@console_view()
def dashboard(request):
    user = request.user
    previous = queries.previous_sign_in(user)
    method = (previous.after or {}).get("method", "") if previous else ""
    return render(request, "console/dashboard.html", {
        "workspace_count": visible_workspaces(user).count(),
        "record_count": visible_records(user).count(),
        "previous_sign_in": previous,
        "previous_method": SIGN_IN_METHODS.get(method, method),
        "can_view_audit": can(user, Perm.VIEW_AUDIT),
        "recent_events": queries.recent_audit_events(user),
    })
