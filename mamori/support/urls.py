"""Provider console routes of support access (included by mamori/operations/urls.py)."""

from django.urls import path

from mamori.support import views

urlpatterns = [
    path("support/", views.provider_support, name="support"),
    path("support/<slug:slug>/<int:pk>/cancel/", views.provider_support_cancel, name="support_cancel"),
    path("support/<slug:slug>/<int:pk>/open/", views.provider_support_open, name="support_open"),
]
