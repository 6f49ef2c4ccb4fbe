"""Lead users who must have MFA but have none to enrolment, and nowhere else; and ask
for the second factor in sessions that were opened without it.

When the tenant's policy requires MFA of a signed-in user (``mamori.multifactor.policy``)
and they have no TOTP app or security key yet, every console page redirects to the
"Two-factor authentication" page. Only the enrolment pages themselves, re-authentication,
sign-out and the language switch stay reachable. API requests (bearer tokens) are not
session sign-ins and are not affected.

Sessions opened by Mamori's own links (one-time sign-in link, invitation) call Django's
``login()`` directly, so allauth's MFA step never ran and the session holds no allauth
authentication record. A user who has a second factor must then confirm it
(allauth's MFA re-authentication page) before anything else.
"""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from mamori.multifactor.policy import must_enrol

AUTH_RECORDS_SESSION_KEY = "account_authentication_methods"  # allauth's list of sign-in steps
CONFIRM_URL_NAMES = frozenset({"mfa_reauthenticate", "mfa_reauthenticate_webauthn", "account_logout",
                               "set_language", "set_password"})

ALLOWED_URL_NAMES = frozenset({
    "mfa_index", "mfa_activate_totp", "mfa_add_webauthn", "mfa_list_webauthn", "mfa_reauthenticate",
    "mfa_reauthenticate_webauthn", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes", "account_reauthenticate", "account_logout", "set_language",
    "set_password",
})


class MfaEnrolmentRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        tenant = getattr(request, "tenant", None)
        if tenant is None or user is None or not user.is_authenticated:
            return None
        match = getattr(request, "resolver_match", None)
        url_name = match.url_name if match is not None else None
        if request.path_info.startswith(("/i18n/", "/static/")):
            return None
        if (url_name not in CONFIRM_URL_NAMES and not request.session.get(AUTH_RECORDS_SESSION_KEY)
                and Authenticator.objects.filter(user_id=user.pk).exists()):
            query = urlencode({"next": request.get_full_path()}) if request.method in ("GET", "HEAD") else ""
            return redirect(reverse("mfa_reauthenticate") + (f"?{query}" if query else ""))
        if url_name in ALLOWED_URL_NAMES:
            return None
        if not must_enrol(user, tenant):
            return None
        if request.method in ("GET", "HEAD"):
            messages.warning(request, _(
                "Your organisation requires two-factor authentication. Set up an authenticator app or a "
                "security key to continue."))
        return redirect("mfa_index")
