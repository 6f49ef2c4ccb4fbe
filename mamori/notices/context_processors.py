"""The maintenance / vulnerability banner of the tenant console (12.1.2).

``notice_banner`` puts ``notice_banner`` in every template context: for a signed-in user of
the active tenant, the tenant's current maintenance and vulnerability notices that the user
has not hidden (a lazy list: the query runs only when ``notices/banner.html`` renders it).
"""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def notice_banner(request) -> dict:
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or user is None or not user.is_authenticated or getattr(user, "tenant_id", None) != tenant.pk:
        return {"notice_banner": ()}

    def load():
        from mamori.notices.queries import banner_notices

        return banner_notices(tenant, user)

    return {"notice_banner": SimpleLazyObject(load)}
