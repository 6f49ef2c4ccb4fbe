"""Tenant console URLs (the ``/t/<slug>/`` prefix is already stripped)."""

from django.urls import path, register_converter

from mamori.console.views import (
    audit,
    dashboard,
    evidence,
    labels,
    records,
    siem,
    tokens,
    users,
    workspaces,
)


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
    # Labels
    path("labels/", labels.label_list, name="labels"),
    path("labels/new/", labels.label_create, name="label_create"),
    path("labels/<dbid:pk>/edit/", labels.label_edit, name="label_edit"),
    path("labels/<dbid:pk>/delete/", labels.label_delete, name="label_delete"),
    path("labels.css", labels.labels_css, name="labels_css"),
    # Users and the operation log
    path("users/", users.user_list, name="users"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/<dbid:pk>/", audit.audit_event, name="audit_event"),
    path("me/sign-ins/", audit.my_signins, name="my_signins"),
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
    # Personal API tokens
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/new/", tokens.token_create, name="token_create"),
    path("tokens/<dbid:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
]
