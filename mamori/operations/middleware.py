"""Attach the signed-in provider staff member (if any) to provider requests."""

from __future__ import annotations

PROVIDER_SESSION_KEY = "_mamori_provider_staff_id"


class ProviderStaffMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.provider_staff = None
        if request.path_info.startswith("/provider/") and getattr(request, "tenant", None) is None:
            staff_id = request.session.get(PROVIDER_SESSION_KEY)
            if staff_id is not None:
                from mamori.operations.models import ProviderStaff

                request.provider_staff = ProviderStaff.objects.filter(pk=staff_id, is_active=True).first()
        return self.get_response(request)
