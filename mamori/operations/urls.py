from django.urls import path

from mamori.operations import (
    views,
    views_allowlist,
    views_attachments,
    views_backups,
    views_tenant_backups,
    views_termination,
)

app_name = "provider"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("log/", views.provider_log, name="log"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:message_id>/", views.outbox_message, name="outbox_message"),
    path("backups/", views_backups.backups, name="backups"),
    path("tenants/<slug:slug>/ip-allowlist-override/", views_allowlist.ip_allowlist_override,
         name="ip_allowlist_override"),
    path("tenants/<slug:slug>/backups/", views_tenant_backups.tenant_backups, name="tenant_backups"),
    path("tenants/<slug:slug>/attachment-limit/", views_attachments.attachment_limit, name="attachment_limit"),
    path("terminations/", views_termination.terminations, name="terminations"),
    path("tenants/<slug:slug>/termination/", views_termination.tenant_termination, name="tenant_termination"),
    path("certificates/<int:pk>/", views_termination.certificate_download, name="certificate_download"),
]
