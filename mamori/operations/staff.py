"""Access to provider console pages: signed-in provider staff, optionally of given roles.

``@staff_required`` sends anonymous visitors to the staff sign-in page;
``@staff_required(roles=(StaffRole.SECURITY_OFFICER,))`` also answers 403 to staff of
other roles. Staff roles (``ProviderStaff.StaffRole``): operator (runs the service),
security officer (incidents, security reports, vulnerabilities, control checks), support
(support access requests). Views check roles; the navigation only hides links.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

OPERATOR = "operator"
SECURITY_OFFICER = "security_officer"
SUPPORT = "support"
#: Pages that run the service or show provider-wide logs: not for support staff.
OPERATIONS_ROLES = (OPERATOR, SECURITY_OFFICER)
#: Local outbox (it may hold customers' sign-in links): operators only.
OUTBOX_ROLES = (OPERATOR,)


def staff_required(view=None, *, roles: tuple[str, ...] = ()):
    def decorate(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            staff = getattr(request, "provider_staff", None)
            if staff is None:
                return redirect(f"{reverse('provider:login')}?{urlencode({'next': request.get_full_path()})}")
            if roles and staff.role not in roles:
                raise PermissionDenied
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
