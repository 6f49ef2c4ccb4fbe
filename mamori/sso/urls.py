"""allauth's provider URLs Mamori mounts under ``/t/<slug>/accounts/`` (see accounts/allauth_urls.py)."""

from django.urls import include, path

from mamori.sso import oidc_views

urlpatterns = [
    # Ours first: the same URL name as allauth's, with the ID token signature always checked.
    path("oidc/<str:provider_id>/login/callback/", oidc_views.callback, name="openid_connect_callback"),
    # OpenID Connect: oidc/sso<id>/login/ and oidc/sso<id>/login/callback/
    path("", include("allauth.socialaccount.providers.openid_connect.urls")),
    # SAML 2.0: saml/sso<id>/{login,acs,acs/finish,sls,metadata}/. Mamori's checks (replay,
    # unsolicited responses, audited refusals) live in mamori.sso.provider and .adapter.
    path("", include("allauth.socialaccount.providers.saml.urls")),
]
