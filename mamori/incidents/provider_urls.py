"""Provider console URLs of the incidents app (included by ``mamori.operations.urls``)."""

from django.urls import path

from mamori.incidents import views_provider as views

urlpatterns = [
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/new/", views.incident_create, name="incident_create"),
    path("incidents/deadlines/", views.deadlines, name="incident_deadlines"),
    path("incidents/policies/", views.policies, name="incident_policies"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="incident_edit"),
    path("incidents/<int:pk>/timeline/", views.incident_add_update, name="incident_add_update"),
    path("incidents/<int:pk>/notify/", views.incident_notify, name="incident_notify"),
    path("security-reports/", views.report_list, name="security_reports"),
    path("security-reports/<int:pk>/", views.report_detail, name="security_report"),
]
