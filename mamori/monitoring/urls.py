"""Root URLs of mamori.monitoring (included from ``mamori.urls``): public status page and feed,
and the protected metrics endpoint. The provider page is under ``/provider/monitoring/``."""

from django.urls import path

from mamori.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("status", views.status_page, name="status"),
    path("status/feed.atom", views.status_feed, name="feed"),
    path("metrics", views.metrics_view, name="metrics"),
]
