from django.urls import include, path

from mamori.compliance import views_controls as controls_views
from mamori.monitoring import views as monitoring_views
from mamori.notices import views_provider as notices_views
from mamori.operations import (
    views,
    views_allowlist,
    views_attachments,
    views_backups,
    views_mfa,
    views_schedules,
    views_tenant_backups,
    views_termination,
)

app_name = "provider"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("login/verify/", views_mfa.mfa_verify, name="mfa"),
    path("login/setup/", views_mfa.mfa_setup, name="mfa_setup"),
    path("schedules/", views_schedules.schedules, name="schedules"),
    path("schedules/<str:name>/run/", views_schedules.schedule_run_now, name="schedule_run_now"),
    path("vulnerabilities/", views_schedules.vulnerabilities, name="vulnerabilities"),
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
    path("monitoring/", monitoring_views.provider_monitoring, name="monitoring"),
    # Control checks (mamori.compliance)
    path("controls/", controls_views.controls, name="controls"),
    path("controls/run/", controls_views.controls_run, name="controls_run"),
    path("controls/export/", controls_views.controls_export, name="controls_export"),
    path("controls/<str:key>/", controls_views.control_history, name="control_history"),
    path("", include("mamori.incidents.provider_urls")),
    path("", include("mamori.support.urls")),  # support access (mamori.support)
    # Notices (mamori.notices)
    path("notices/", notices_views.notice_list, name="notices"),
    path("notices/new/", notices_views.notice_create, name="notice_create"),
    path("notices/<int:pk>/", notices_views.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/edit/", notices_views.notice_edit, name="notice_edit"),
    path("notices/<int:pk>/publish/", notices_views.notice_publish, name="notice_publish"),
    path("notices/<int:pk>/cancel/", notices_views.notice_cancel, name="notice_cancel"),
    path("notices/<int:pk>/retry/", notices_views.notice_retry, name="notice_retry"),
]
