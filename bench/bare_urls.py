"""URLs of the bare baseline: the same paths as Mamori's API."""

from django.urls import path

from bench import bare_views

urlpatterns = [
    path("api/v1/records", bare_views.records, name="bare-records"),
    path("api/v1/records/<int:record_id>", bare_views.record, name="bare-record"),
]
