"""Top-level URLs (no tenant): health, API, provider console, language switch.

Tenant console URLs live in ``mamori.urls_tenant`` and are reached only through
the ``/t/<slug>/`` prefix handled by ``TenantMiddleware``.
"""

from django.urls import include, path
from django.views.i18n import set_language

from mamori.compliance import views_whitepaper
from mamori.core import views as core_views
from mamori.notices import views as notices_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", include("mamori.api.urls")),
    path("scim/v2/", include("mamori.scim.urls")),
    path("provider/", include("mamori.operations.urls")),
    # Public status page and Atom feed, protected /metrics (mamori.monitoring).
    path("", include("mamori.monitoring.urls")),
    path("security/whitepaper", views_whitepaper.whitepaper_page, name="security_whitepaper"),
    path("security/whitepaper/<str:lang>.<str:fmt>", views_whitepaper.whitepaper_download,
         name="security_whitepaper_download"),
    path("", include("mamori.incidents.public_urls")),
    path("status/maintenance.ics", notices_views.maintenance_ics, name="notices_maintenance_ics"),
    path("release-notes/", notices_views.release_notes, name="release_notes"),
]

handler404 = "mamori.core.views.not_found"
handler403 = "mamori.core.views.forbidden"
handler400 = "mamori.core.views.bad_request"
handler500 = "mamori.core.views.server_error"
