"""Tenant console URLs, resolved after ``/t/<slug>/`` has been stripped."""

from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    path("", include("mamori.accounts.urls")),
    path("accounts/", include("mamori.accounts.allauth_urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("mamori.console.urls")),
]

handler404 = "mamori.core.views.not_found"
handler403 = "mamori.core.views.forbidden"
handler400 = "mamori.core.views.bad_request"
handler500 = "mamori.core.views.server_error"
