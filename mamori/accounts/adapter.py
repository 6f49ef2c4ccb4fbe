"""allauth adapter: no public sign-up (tenant admins create accounts); passwords set through actions.

Password sign-in and re-authentication pass Mamori's throttle (``mamori.accounts.throttle``)
before the password is checked: while the account or the client address must wait, the
attempt is refused at once with "try again in …" — the same answer whether or not the
account exists, and the password is not looked at. Failures are counted by the
``user_login_failed`` receiver (``mamori.accounts.signals``); a success resets the
account's counter, and so does a password reset from an e-mailed link. allauth's own
``login_failed`` rate limit is checked next, as a second layer.
"""

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError


def _login_key(credentials) -> str:
    return str(credentials.get("email", credentials.get("username", "")) or "")


class MamoriAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False

    def set_password(self, user, password, commit=True) -> None:
        """Every password allauth sets (reset from a link) goes through the audited action."""
        from mamori.accounts.actions import set_password
        from mamori.audit.events import Actor

        set_password(actor=Actor.for_user(user), user=user, password=password)
        from mamori.accounts.mail import send_password_changed

        send_password_changed(user)  # after commit; tells the owner in case it was not them
        from mamori.accounts.throttle import PASSWORD, attempt_succeeded

        # The owner proved control of the mailbox: the new password may be tried at once.
        attempt_succeeded(None, kind=PASSWORD, account_key=user.email)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """Count failed sign-ins per tenant and address: the same e-mail at two tenants
        is two accounts, so failures at one must never lock the other out."""
        from mamori.tenancy.context import current_tenant

        tenant = current_tenant()
        login = str(credentials.get("email", credentials.get("username", ""))).lower()
        return f"tenant:{tenant.pk if tenant is not None else '-'}:{login}"

    def pre_authenticate(self, request, **credentials) -> None:
        from mamori.accounts.throttle import PASSWORD, check_allowed, wait_message

        # Mamori's throttle first: a refused attempt then uses none of allauth's allowance.
        wait = check_allowed(request, kind=PASSWORD, account_key=_login_key(credentials))
        if wait:
            raise ValidationError(wait_message(wait), code="too_many_login_attempts")
        super().pre_authenticate(request, **credentials)

    def authenticate(self, request, **credentials):
        from mamori.accounts.throttle import PASSWORD, attempt_succeeded

        user = super().authenticate(request, **credentials)
        if user is not None:
            attempt_succeeded(request, kind=PASSWORD, account_key=_login_key(credentials))
        elif getattr(request, "mamori_signin_refusal", None) == "initial_password_expired":
            # The password was right but may no longer be used: say why (the form shows it).
            from django.core.exceptions import ValidationError
            from django.utils.translation import gettext as _

            raise ValidationError(_("Your initial password has expired. Ask your administrator for a "
                                    "sign-in link or a new initial password."), code="initial_password_expired")
        return user

    def get_client_ip(self, request) -> str:
        """The client address as Mamori sees it (trusted proxies only; ``mamori.core.net``),
        for allauth's rate limits and the user-sessions list."""
        from django.core.exceptions import PermissionDenied

        from mamori.core.net import client_ip

        address = client_ip(request)
        if not address:
            raise PermissionDenied("Unable to determine client IP address")
        return address

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        return reverse("console:dashboard")
