"""Top-level URLs (no tenant): health, API, provider console, language switch.

Tenant console URLs live in ``mamori.urls_tenant`` and are reached only through
the ``/t/<slug>/`` prefix handled by ``TenantMiddleware``.
"""

from django.urls import include, path
from django.views.i18n import set_language

from mamori.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", include("mamori.api.urls")),
    path("scim/v2/", include("mamori.scim.urls")),
    path("provider/", include("mamori.operations.urls")),
]

handler404 = "mamori.core.views.not_found"
handler403 = "mamori.core.views.forbidden"
handler400 = "mamori.core.views.bad_request"
handler500 = "mamori.core.views.server_error"
