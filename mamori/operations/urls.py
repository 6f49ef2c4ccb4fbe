from django.urls import path

from mamori.operations import views, views_allowlist

app_name = "provider"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("log/", views.provider_log, name="log"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:message_id>/", views.outbox_message, name="outbox_message"),
    path("tenants/<slug:slug>/ip-allowlist-override/", views_allowlist.ip_allowlist_override,
         name="ip_allowlist_override"),
]
