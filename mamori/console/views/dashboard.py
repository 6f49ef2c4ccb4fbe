from __future__ import annotations

from django.shortcuts import render

from mamori.access.roles import Perm, can
from mamori.accounts import queries_signins as signins
from mamori.console import queries
from mamori.console.views.common import console_view
from mamori.records.queries import visible_records, visible_workspaces


@console_view()
def dashboard(request):
    user = request.user
    current = signins.current_signin(request.session)
    previous = signins.previous_signin(user, current)
    failures = signins.failures_between(user, previous.occurred_at if previous else None,
                                        current[0] if current else None)
    return render(request, "console/dashboard.html", {
        "workspace_count": visible_workspaces(user).count(),
        "record_count": visible_records(user).count(),
        "previous_sign_in": previous,
        "previous_method": signins.method_label(signins.signin_method(previous)) if previous else "",
        "failures_since_previous": failures,
        "can_view_audit": can(user, Perm.VIEW_AUDIT),
        "recent_events": queries.recent_audit_events(user),
    })
