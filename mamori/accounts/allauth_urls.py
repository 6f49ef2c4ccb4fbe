"""The allauth views Mamori exposes — only these.

allauth's full URL set includes sign-up and e-mail address management, which
would write rows to allauth's global ``account_emailaddress`` table (no tenant,
no RLS). Customer accounts are created by tenant admins, and a user's e-mail is
the one on the tenant-scoped user row, so those views are not mounted.
"""

from allauth.account import views
from django.urls import include, path, re_path

urlpatterns = [
    path("login/", views.login, name="account_login"),
    path("logout/", views.logout, name="account_logout"),
    path("inactive/", views.account_inactive, name="account_inactive"),
    path("reauthenticate/", views.reauthenticate, name="account_reauthenticate"),
    # Self-service reset: answers the same whether or not the address exists
    # (ACCOUNT_PREVENT_ENUMERATION); user lookups go through the tenant manager.
    path("password/reset/", views.password_reset, name="account_reset_password"),
    path("password/reset/done/", views.password_reset_done, name="account_reset_password_done"),
    re_path(r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
            views.password_reset_from_key, name="account_reset_password_from_key"),
    path("password/reset/key/done/", views.password_reset_from_key_done,
         name="account_reset_password_from_key_done"),
    # Two-factor authentication (mamori.multifactor): overview, sign-in and re-authentication
    # steps, TOTP, security keys/passkeys, recovery codes. allauth.mfa.urls mounts only the
    # enabled types; passkey sign-in/sign-up and "trust this browser" are off (settings.MFA_*).
    path("2fa/", include("allauth.mfa.urls")),
    # Single sign-on (mamori.sso): the tenant's OIDC callback and SAML endpoints (oidc/…, saml/…).
    path("", include("mamori.sso.urls")),
]
