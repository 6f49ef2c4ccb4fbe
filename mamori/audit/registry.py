"""The one registry of audit event names.

Every event an action writes is a dotted verb registered here with a Japanese
and English label (through gettext). Writing an unregistered name raises, so a
typo cannot create an event nobody can search for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class EventType:
    name: str
    label: object  # lazy translation
    category: str  # operation | signin | api | provider


EVENT_TYPES: dict[str, EventType] = {}


def register(name: str, label, category: str = "operation") -> EventType:
    if name in EVENT_TYPES:
        raise ValueError(f"Audit event {name} registered twice")
    event = EventType(name, label, category)
    EVENT_TYPES[name] = event
    return event


def get_event_type(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise KeyError(f"Unregistered audit event name: {name}") from None


# Tenancy
register("tenant.created", _("Tenant created"))
register("tenant.updated", _("Tenant updated"))
# Accounts and sign-in
register("user.created", _("User created"))
register("user.updated", _("User updated"))
register("user.password_set", _("Password set"))
register("user.login_link_created", _("One-time sign-in link issued"))
register("user.login_link_used", _("Signed in with a one-time link"), "signin")
register("user.invited", _("User invited"))
register("user.invitation_resent", _("Invitation re-sent"))
register("user.invitation_cancelled", _("Invitation cancelled"))
register("user.registered", _("Invitation accepted"))
register("user.role_changed", _("User role changed"))
register("user.suspended", _("User suspended"))
register("user.reactivated", _("User reactivated"))
register("user.deleted", _("User deleted"))
register("user.sessions_ended", _("User signed out everywhere"))
register("user.password_changed", _("Password changed"))
register("users.imported", _("Users imported from CSV"))
register("auth.login", _("Signed in"), "signin")
register("auth.login_failed", _("Sign-in failed"), "signin")
register("auth.logout", _("Signed out"), "signin")
register("auth.lockout", _("Sign-in locked after too many failed attempts"), "signin")
register("signins.exported", _("Sign-in history exported (CSV)"))
register("api_token.created", _("API token created"))
register("api_token.revoked", _("API token revoked"))
register("access.denied", _("Permission denied"))
# Records
register("workspace.created", _("Workspace created"))
register("workspace.updated", _("Workspace updated"))
register("workspace.deleted", _("Workspace deleted"))
register("workspace.member_added", _("Workspace member added"))
register("workspace.member_removed", _("Workspace member removed"))
register("label.created", _("Label created"))
register("label.updated", _("Label updated"))
register("label.deleted", _("Label deleted"))
register("record.created", _("Record created"))
register("record.updated", _("Record updated"))
register("record.deleted", _("Record deleted"))
# Provider log
register("provider.staff_created", _("Provider staff created"), "provider")
register("provider.login", _("Provider staff signed in"), "provider")
register("provider.login_failed", _("Provider staff sign-in failed"), "provider")
register("provider.logout", _("Provider staff signed out"), "provider")
register("provider.outbox_message_viewed", _("Provider staff read a local outbox message"), "provider")
# Retention and evidence export (mamori.evidence)
register("audit.retention_changed", _("Audit log retention changed"))
register("audit.purged", _("Expired audit events removed (retention)"))
register("evidence.export_requested", _("Evidence export requested"))
register("evidence.export_completed", _("Evidence export completed"))
register("evidence.export_failed", _("Evidence export failed"))
register("evidence.export_downloaded", _("Evidence export downloaded"))
register("evidence.export_expired", _("Expired evidence package deleted"))
# Audit chain (tamper evidence)
register("audit.digest_created", _("Signed audit digests created"), "provider")
register("audit.verified", _("Audit chains verified"), "provider")
# SIEM webhooks
register("siem.subscription_created", _("SIEM webhook created"))
register("siem.subscription_updated", _("SIEM webhook changed"))
register("siem.subscription_deleted", _("SIEM webhook deleted"))
register("siem.subscription_disabled", _("SIEM webhook disabled"))
register("siem.subscription_enabled", _("SIEM webhook enabled"))
register("siem.test_sent", _("SIEM webhook test event sent"))
# Organizational units and unit admins (mamori.access)
register("unit.created", _("Organizational unit created"))
register("unit.updated", _("Organizational unit changed"))
register("unit.moved", _("Organizational unit moved"))
register("unit.deleted", _("Organizational unit deleted"))
register("unit.member_added", _("User added to an organizational unit"))
register("unit.member_removed", _("User removed from an organizational unit"))
register("unit.members_changed", _("Organizational unit members changed"))
register("unit.admin_assigned", _("Unit admin assigned to a unit"))
register("unit.admin_removed", _("Unit admin removed from a unit"))
# Record comments and reviews
register("record.commented", _("Comment added to a record"))
register("record.reviewed", _("Record reviewed"))
# Password policy (9.2.4)
register("security.password_policy_updated", _("Password policy changed"))
# Single sign-on (mamori.sso)
register("sso.connection_updated", _("SSO connection changed"))
register("sso.user_provisioned", _("User created at first SSO sign-in"))
register("sso.identity_linked", _("SSO identity linked to a user"))
register("sso.login_failed", _("SSO sign-in refused"), "signin")
register("sso.password_refused", _("Password sign-in refused: SSO required"), "signin")
# Per-tenant IP allowlist (9.2.3; mamori.access.allowlist)
register("security.ip_allowlist_updated", _("IP allowlist changed"))
register("security.ip_allowlist_override_started", _("IP allowlist suspended by the provider (emergency override)"))
register("security.ip_allowlist_override_ended", _("Provider's emergency override of the IP allowlist ended"))
register("access.ip_blocked", _("Request refused: IP address not on the allowlist"))
# SCIM 2.0 provisioning (mamori.scim)
register("scim.token_created", _("SCIM token created"))
register("scim.token_revoked", _("SCIM token revoked"))
register("scim.auth_failed", _("SCIM token refused"), "api")
register("scim.request_refused", _("SCIM request refused"), "api")
register("scim.user_provisioned", _("User provisioned by SCIM"))
register("scim.user_changed", _("SCIM attributes of a user changed"))
register("scim.group_provisioned", _("Organizational unit provisioned by SCIM"))
register("scim.group_changed", _("SCIM attributes of an organizational unit changed"))
# Sessions and brute force (mamori.accounts.sessions, mamori.accounts.throttle)
register("auth.session_expired", _("Signed out by the session policy (idle or maximum length)"), "signin")
register("user.session_ended", _("A session was ended"))
register("security.session_policy_updated", _("Session policy changed"))
# Tenant data keys and the master key (mamori.lifecycle.keys)
register("keys.tenant_key_created", _("Tenant data key created"))
register("keys.tenant_rotation_started", _("Tenant data key rotation started"))
register("keys.tenant_rotated", _("Tenant data key rotated; data re-encrypted"))
register("keys.tenant_keys_destroyed", _("Tenant data keys destroyed"), "provider")
register("keys.master_rotated", _("Master key rotated; data keys re-wrapped"), "provider")
# Multi-factor authentication (mamori.multifactor)
register("mfa.authenticator_added", _("MFA method added"))
register("mfa.authenticator_removed", _("MFA method removed"))
register("mfa.recovery_codes_regenerated", _("MFA recovery codes regenerated"))
register("mfa.reset", _("MFA of a user reset by an admin"))
register("security.mfa_policy_updated", _("MFA policy changed"))
register("auth.mfa_succeeded", _("MFA step of sign-in succeeded"), "signin")
register("auth.mfa_failed", _("MFA code refused"), "signin")
# Record attachments (mamori.records.attachments)
register("attachment.uploaded", _("Attachment uploaded"))
register("attachment.downloaded", _("Attachment downloaded"))
register("attachment.deleted", _("Attachment deleted"))
register("attachment.unreadable", _("Attachment could not be decrypted (modified or missing file)"))
register("attachment.limit_changed", _("Attachment size limit changed"))
register("attachment.provider_limit_changed", _("Attachment size limit of a tenant set by the provider"), "provider")
# System backups and restore drills (mamori.lifecycle.actions_backup)
register("backup.created", _("System backup created"), "provider")
register("backup.failed", _("System backup failed"), "provider")
register("backup.verified", _("System backup verified"), "provider")
register("backup.pruned", _("Old system backups pruned (generation policy)"), "provider")
register("backup.restored", _("System backup restored"), "provider")
register("backup.drill_started", _("Restore drill started"), "provider")
register("backup.drill_finished", _("Restore drill finished"), "provider")
# Full tenant export (mamori.lifecycle.export)
register("tenant_export.requested", _("Full data export requested"))
register("tenant_export.completed", _("Full data export completed"))
register("tenant_export.failed", _("Full data export failed"))
register("tenant_export.downloaded", _("Full data export downloaded"))
register("tenant_export.expired", _("Expired full data export deleted"))
register("tenant_export.requested_by_provider", _("Full data export of a tenant started by the provider"), "provider")
register("tenant_export.downloaded_by_provider", _("Full data export of a tenant saved by the provider"), "provider")
# Contract termination, purge and deletion certificate (mamori.lifecycle.actions_termination)
register("tenant.termination_requested", _("Contract termination requested (grace period started)"))
register("tenant.termination_cancelled", _("Contract termination cancelled"))
register("tenant.termination_reminder_sent", _("Termination reminder sent to the tenant's admins"))
register("tenant.termination_grace_set", _("Termination grace period of a tenant set"), "provider")
register("tenant.purge_started", _("Tenant data purge started"), "provider")
register("tenant.purged", _("Tenant data purged; deletion certificate issued"), "provider")
# Per-tenant backups and restores (mamori.lifecycle.actions_tenant_backup)
register("tenant_backup.created", _("Backup of the tenant's data taken"))
register("tenant_backup.restored", _("Tenant data restored from a backup"))
register("tenant_backup.copied", _("Tenant data copied into a new tenant from a backup"))
register("tenant_backup.taken", _("Per-tenant backup taken"), "provider")
register("tenant_backup.failed", _("Per-tenant backup failed"), "provider")
register("tenant_backup.restore_done", _("Tenant restored from a per-tenant backup"), "provider")
register("tenant_backup.pruned", _("Old per-tenant backups deleted"), "provider")
