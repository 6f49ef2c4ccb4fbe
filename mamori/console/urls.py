"""Tenant console URLs (the ``/t/<slug>/`` prefix is already stripped)."""

from django.urls import path, register_converter

from mamori.console.views import (
    allowlist,
    attachments,
    audit,
    dashboard,
    data_backups,
    data_export,
    evidence,
    help,
    labels,
    mfa,
    organisation,
    record_reviews,
    records,
    scim,
    security,
    sessions,
    siem,
    signins,
    sso,
    termination,
    tokens,
    units,
    user_import,
    users,
    workspaces,
)
from mamori.notices import views_console as notices_console
from mamori.support import views as support_views


class DatabaseIdConverter:
    """A positive id that fits a 64-bit column (longer numbers are simply not found)."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(DatabaseIdConverter, "dbid")

app_name = "console"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # Workspaces
    path("workspaces/", workspaces.workspace_list, name="workspaces"),
    path("workspaces/new/", workspaces.workspace_create, name="workspace_create"),
    path("workspaces/<dbid:pk>/", workspaces.workspace_detail, name="workspace_detail"),
    path("workspaces/<dbid:pk>/edit/", workspaces.workspace_edit, name="workspace_edit"),
    path("workspaces/<dbid:pk>/delete/", workspaces.workspace_delete, name="workspace_delete"),
    path("workspaces/<dbid:pk>/members/add/", workspaces.workspace_member_add, name="workspace_member_add"),
    path("workspaces/<dbid:pk>/members/<dbid:user_id>/remove/", workspaces.workspace_member_remove,
         name="workspace_member_remove"),
    # Records
    path("records/", records.record_list, name="records"),
    path("records/new/", records.record_create, name="record_create"),
    path("records/<dbid:pk>/", records.record_detail, name="record_detail"),
    path("records/<dbid:pk>/edit/", records.record_edit, name="record_edit"),
    path("records/<dbid:pk>/delete/", records.record_delete, name="record_delete"),
    path("records/<dbid:pk>/comments/", record_reviews.record_comment, name="record_comment"),
    path("records/<dbid:pk>/review/", record_reviews.record_review, name="record_review"),
    path("records/<dbid:pk>/attachments/", attachments.record_attachment_upload, name="record_attachment_upload"),
    path("records/<dbid:pk>/attachments/<dbid:attachment_id>/", attachments.record_attachment_download,
         name="record_attachment_download"),
    path("records/<dbid:pk>/attachments/<dbid:attachment_id>/delete/", attachments.record_attachment_delete,
         name="record_attachment_delete"),
    # Labels
    path("labels/", labels.label_list, name="labels"),
    path("labels/new/", labels.label_create, name="label_create"),
    path("labels/<dbid:pk>/edit/", labels.label_edit, name="label_edit"),
    path("labels/<dbid:pk>/delete/", labels.label_delete, name="label_delete"),
    path("labels.css", labels.labels_css, name="labels_css"),
    # Users and the operation log
    path("users/", users.user_list, name="users"),
    path("users/invite/", users.user_invite, name="user_invite"),
    path("users/<dbid:user_id>/reset-mfa/", mfa.user_reset_mfa, name="user_reset_mfa"),
    path("users/import/", user_import.user_import, name="user_import"),
    path("users/import/apply/", user_import.user_import_apply, name="user_import_apply"),
    path("users/import/sample.csv", user_import.user_import_sample, name="user_import_sample"),
    path("users/export.csv", user_import.user_export, name="user_export"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<dbid:user_id>/", users.user_detail, name="user_detail"),
    path("users/<dbid:user_id>/edit/", users.user_edit, name="user_edit"),
    path("users/<dbid:user_id>/suspend/", users.user_suspend, name="user_suspend"),
    path("users/<dbid:user_id>/reactivate/", users.user_reactivate, name="user_reactivate"),
    path("users/<dbid:user_id>/end-sessions/", users.user_end_sessions, name="user_end_sessions"),
    path("users/<dbid:user_id>/delete/", users.user_delete, name="user_delete"),
    path("users/<dbid:user_id>/invitation/resend/", users.user_invitation_resend, name="user_invitation_resend"),
    path("users/<dbid:user_id>/invitation/cancel/", users.user_invitation_cancel, name="user_invitation_cancel"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/<dbid:pk>/", audit.audit_event, name="audit_event"),
    # Sign-in history (everyone's for signins.view; one's own for every user)
    path("signins/", signins.signin_list, name="signins"),
    path("signins/export.csv", signins.signin_export, name="signins_export"),
    path("me/sign-ins/", signins.my_signins, name="my_signins"),
    # Sessions: one's own (allauth usersessions) and the tenant's session policy
    path("me/sessions/", sessions.my_sessions, name="my_sessions"),
    path("me/sessions/<dbid:session_id>/end/", sessions.my_session_end, name="my_session_end"),
    path("me/sessions/end-others/", sessions.my_sessions_end_others, name="my_sessions_end_others"),
    path("settings/security/sessions/", sessions.security_sessions, name="security_sessions"),
    path("settings/security/sessions/end-all/", sessions.security_sessions_end_all,
         name="security_sessions_end_all"),
    # Settings: password policy
    path("settings/security/", security.security_overview, name="security"),
    path("settings/security/mfa/", mfa.security_mfa, name="security_mfa"),
    path("settings/security/sso/", sso.security_sso, name="security_sso"),
    path("settings/password-policy/", security.password_policy, name="password_policy"),
    path("settings/security/ip-allowlist/", allowlist.ip_allowlist, name="security_ip_allowlist"),
    path("settings/security/attachments/", attachments.security_attachments, name="security_attachments"),
    # Settings → Security: support access requests of the provider's staff (mamori.support)
    path("settings/security/support-access/", support_views.support_access, name="security_support_access"),
    path("settings/security/support-access/<dbid:pk>/approve/", support_views.support_access_approve,
         name="security_support_access_approve"),
    path("settings/security/support-access/<dbid:pk>/refuse/", support_views.support_access_refuse,
         name="security_support_access_refuse"),
    path("settings/security/support-access/<dbid:pk>/shorten/", support_views.support_access_shorten,
         name="security_support_access_shorten"),
    path("settings/security/support-access/<dbid:pk>/revoke/", support_views.support_access_revoke,
         name="security_support_access_revoke"),
    path("support/enter/", support_views.support_enter, name="support_enter"),
    # Settings: SCIM provisioning (mamori.scim)
    path("settings/security/scim/", scim.security_scim, name="security_scim"),
    path("settings/security/scim/new/", scim.security_scim_create, name="security_scim_create"),
    path("settings/security/scim/<dbid:pk>/revoke/", scim.security_scim_revoke, name="security_scim_revoke"),
    # Settings: SIEM webhooks
    path("settings/siem/", siem.siem_list, name="siem"),
    path("settings/siem/new/", siem.siem_create, name="siem_create"),
    path("settings/siem/<dbid:pk>/", siem.siem_detail, name="siem_detail"),
    path("settings/siem/<dbid:pk>/test/", siem.siem_test, name="siem_test"),
    path("settings/siem/<dbid:pk>/disable/", siem.siem_disable, name="siem_disable"),
    path("settings/siem/<dbid:pk>/enable/", siem.siem_enable, name="siem_enable"),
    path("settings/siem/<dbid:pk>/delete/", siem.siem_delete, name="siem_delete"),
    # Evidence packages (mamori.evidence)
    path("evidence/", evidence.evidence_list, name="evidence"),
    path("evidence/new/", evidence.evidence_create, name="evidence_create"),
    path("evidence/<dbid:pk>/", evidence.evidence_detail, name="evidence_detail"),
    path("evidence/<dbid:pk>/download/", evidence.evidence_download, name="evidence_download"),
    path("settings/retention/", evidence.retention_settings, name="retention"),
    # Settings → Data: overview and contract termination (mamori.lifecycle.termination)
    path("settings/data/", termination.data_overview, name="data"),
    path("settings/data/termination/", termination.data_termination, name="data_termination"),
    # Settings → Data: full tenant export (mamori.lifecycle.export)
    path("settings/data/export/", data_export.data_export, name="data_export"),
    path("settings/data/export/<dbid:pk>/", data_export.data_export_detail, name="data_export_detail"),
    path("settings/data/export/<dbid:pk>/download/", data_export.data_export_download, name="data_export_download"),
    # Settings → Data: the tenant's own per-tenant backups, read-only (mamori.lifecycle.tenant_backup)
    path("settings/data/backups/", data_backups.data_backups, name="data_backups"),
    # Personal API tokens
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/new/", tokens.token_create, name="token_create"),
    path("tokens/<dbid:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    # Organizational units and unit admins
    path("units/", units.unit_list, name="units"),
    path("units/new/", units.unit_create, name="unit_create"),
    path("units/<dbid:pk>/", units.unit_detail, name="unit_detail"),
    path("units/<dbid:pk>/edit/", units.unit_edit, name="unit_edit"),
    path("units/<dbid:pk>/move/", units.unit_move, name="unit_move"),
    path("units/<dbid:pk>/delete/", units.unit_delete, name="unit_delete"),
    path("units/<dbid:pk>/members/add/", units.unit_member_add, name="unit_member_add"),
    path("units/<dbid:pk>/members/<dbid:user_id>/remove/", units.unit_member_remove, name="unit_member_remove"),
    path("units/<dbid:pk>/admins/add/", units.unit_admin_add, name="unit_admin_add"),
    path("units/<dbid:pk>/admins/<dbid:user_id>/remove/", units.unit_admin_remove, name="unit_admin_remove"),
    # Notices from the provider (mamori.notices) and the organisation page
    path("notices/", notices_console.notice_list, name="notices"),
    path("notices/dismiss/", notices_console.notice_dismiss, name="notice_dismiss"),
    path("notices/maintenance.ics", notices_console.notices_ics, name="notices_ics"),
    path("release-notes/", notices_console.release_notes, name="release_notes"),
    path("settings/organisation/", organisation.organisation, name="organisation"),
    # Help (topics listed in mamori.console.views.help.HELP_TOPICS)
    path("help/", help.help_index, name="help"),
    path("help/<slug:slug>/", help.help_topic, name="help_topic"),
]
