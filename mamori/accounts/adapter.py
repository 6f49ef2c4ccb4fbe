"""allauth adapter: no public sign-up (tenant admins create accounts)."""

from allauth.account.adapter import DefaultAccountAdapter


class MamoriAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        return reverse("console:dashboard")
