"""allauth adapter: no public sign-up (tenant admins create accounts); passwords set through actions."""

from allauth.account.adapter import DefaultAccountAdapter


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

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """Count failed sign-ins per tenant and address: the same e-mail at two tenants
        is two accounts, so failures at one must never lock the other out."""
        from mamori.tenancy.context import current_tenant

        tenant = current_tenant()
        login = str(credentials.get("email", credentials.get("username", ""))).lower()
        return f"tenant:{tenant.pk if tenant is not None else '-'}:{login}"

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        return reverse("console:dashboard")
