"""Send users who must set a password to that page before anything else."""

from django.shortcuts import redirect
from django.urls import reverse


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            getattr(request, "tenant", None) is not None
            and user is not None
            and user.is_authenticated
            and (user.must_change_password or not user.has_usable_password())
        ):
            allowed = {reverse("accounts:set_password"), reverse("account_logout")}
            if request.path not in allowed and not request.path_info.startswith("/i18n/"):
                return redirect("accounts:set_password")
        return self.get_response(request)
