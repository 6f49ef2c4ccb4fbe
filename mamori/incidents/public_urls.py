"""Public URLs of the incidents app (included by ``mamori.urls``)."""

from django.urls import path

from mamori.incidents import views_public as views

urlpatterns = [
    path("security/report", views.security_report, name="security_report"),
    path("security/report/sent", views.security_report_sent, name="security_report_sent"),
    path(".well-known/security.txt", views.security_txt, name="security_txt"),
    path("security.txt", views.security_txt_redirect, name="security_txt_redirect"),
]
