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

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        return reverse("console:dashboard")
