"""Send users who must set a password to that page before anything else.

That is: an initial password set by an admin (``must_change_password``), no usable
password yet (unless the user signs in through the tenant's SSO and never had one),
or a password older than the tenant policy's expiry. The expiry is
checked on every request, so a session that outlives the expiry is caught too.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from mamori.accounts.policy import password_expired, policy_for_tenant


def _signs_in_with_sso(user) -> bool:
    """A user created by SSO (or linked to it) has no password and needs none."""
    from allauth.socialaccount.models import SocialAccount

    return SocialAccount.objects.filter(user_id=user.pk).exists()


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tenant = getattr(request, "tenant", None)
        if tenant is not None and user is not None and user.is_authenticated:
            expired = False
            usable = user.has_usable_password()
            must = user.must_change_password or (not usable and not _signs_in_with_sso(user))
            if not must and usable:
                policy = policy_for_tenant(tenant)
                expired = password_expired(user, policy)
            if must or expired:
                allowed = {reverse("accounts:set_password"), reverse("account_logout")}
                if request.path not in allowed and not request.path_info.startswith("/i18n/"):
                    if expired and request.method in ("GET", "HEAD"):
                        messages.warning(request, _(
                            "Your password has expired: the password policy asks for a new one every "
                            "%(days)d days. Choose a new password to continue.") % {"days": policy.expiry_days})
                    return redirect("accounts:set_password")
        return self.get_response(request)
