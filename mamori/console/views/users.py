from __future__ import annotations

from django.shortcuts import render

from mamori.access.roles import Perm
from mamori.console import queries
from mamori.console.views.common import console_view


@console_view(perm=Perm.VIEW_USERS)
def user_list(request):
    return render(request, "console/users/list.html", {"users": queries.tenant_users(request.user)})
