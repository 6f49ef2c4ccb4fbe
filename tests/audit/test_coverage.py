"""Issue 5, item 1: every action writes a registered audit event; no secret reaches the log.

``CALLS`` holds, for every function in ``mamori.core.actions.ACTIONS``, how to call
it with valid arguments. A new action fails ``test_every_action_is_in_the_table``
until a line is added here; its line must make it write at least one event.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.utils import timezone

import mamori
from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.audit.redaction import REDACTED, redact
from mamori.audit.registry import EVENT_TYPES
from mamori.core.actions import ACTIONS
from mamori.tenancy.context import use_tenant


def _import_all_actions() -> None:
    """Import every ``actions.py`` and ``actions_<topic>.py`` module of every Mamori app."""
    for config in apps.get_app_configs():
        if config.name.startswith("mamori."):
            for path in sorted(Path(config.path).glob("actions*.py")):
                importlib.import_module(f"{config.name}.{path.stem}")


_import_all_actions()


# --- helpers the table uses ---------------------------------------------------------


def _ws(c, name="WS"):
    from mamori.records.actions import create_workspace

    return create_workspace(actor=c.actor, name=name)


def _label(c, name="L1"):
    from mamori.records.actions import create_label

    return create_label(actor=c.actor, name=name)


def _record(c):
    from mamori.records.actions import create_record

    return create_record(actor=c.actor, workspace_id=_ws(c).pk, title="R1")


def _staff(c, email="staff@provider.example"):
    from mamori.operations.actions import create_staff

    return create_staff(actor=Actor.system("test"), email=email, password="a long staff password 1")


def _outbox(c):
    from mamori.operations.models import OutboxMessage

    return OutboxMessage.objects.create(from_email="a@example.com", to="b@example.com", subject="s",
                                        body="b", raw="raw")


def _export_with_file(c):
    from mamori.evidence.actions import finish_export

    return finish_export(export_id=_export(c).pk, ok=True, file_path="evidence/none.zip")


def _login_link(c):
    from mamori.accounts.actions import consume_login_link, issue_login_link

    secret = issue_login_link(actor=c.actor, user=c.viewer)
    consume_login_link(secret=secret)


def _category():
    from mamori.evidence.models import Category

    return Category.values[0]


def _far_future():
    return timezone.now() + timedelta(days=365 * 60)


def _export(c):
    now = timezone.now()
    return ACTIONS[E + "request_export"](actor=c.actor, since=now - timedelta(days=1), until=now)


def _subscription(c):
    return ACTIONS[S + "create_subscription"](actor=c.actor, url="https://1.1.1.1/mamori-hook")[0]


K = "mamori.lifecycle.actions."


def _rotate_master_and_back(c):
    """Re-wrap with a new master key, then back, so later actions keep the configured key."""
    import os

    from mamori.lifecycle import keys

    configured = keys.get_key_provider()
    new = keys.LocalKeyProvider(os.urandom(32), "test")
    c.outside_tenant(lambda: ACTIONS[K + "rotate_master_key"](actor=Actor.system("test"), new_provider=new))
    with keys.use_key_provider(new):
        c.outside_tenant(lambda: ACTIONS[K + "rotate_master_key"](actor=Actor.system("test"),
                                                                   new_provider=configured))


BK = "mamori.lifecycle.actions_backup."
importlib.import_module(BK[:-1])  # registers its actions


def _backup_row():
    manifest = {"file": "mamori-20260101T000000Z-abcdef.mbk", "created": "2026-01-01T00:00:00+00:00",
                "engine": "sqlite", "rows": 1, "tables": {"t": 1}, "encrypted": {"size": 10, "sha256": "0" * 64},
                "plaintext": {"size": 5, "sha256": "1" * 64}, "encryption": {"key_id": "k" * 16}}
    return ACTIONS[BK + "record_backup_created"](actor=Actor.system("t"), manifest=manifest)


def _second_tenant():
    from mamori.tenancy.actions import create_tenant

    return create_tenant(actor=Actor.system("test"), slug="doomed", name="Doomed",
                         admin_email="owner@doomed.example")[0]


def _unit(c, name="Sales"):
    return ACTIONS[U + "create_unit"](actor=c.actor, name=name)


def _unit_admin(c):
    c.viewer.role = Role.UNIT_ADMIN
    c.viewer.save(update_fields=["role"])
    return ACTIONS[U + "assign_unit_admin"](actor=c.actor, unit_id=_unit(c).pk, user_id=c.viewer.pk)


def _invite(c, email="invitee@acme.example"):
    return ACTIONS[A + "invite_user"](actor=c.actor, email=email)


def _accept_invitation(c):
    from unittest import mock

    with mock.patch("mamori.accounts.actions.new_secret", return_value="s" * 43):
        _invite(c)
    ACTIONS[A + "accept_invitation"](secret="s" * 43, password="another long passphrase 42")


A = "mamori.accounts.actions."
U = "mamori.access.actions."
S = "mamori.siem.actions."
E = "mamori.evidence.actions."
R = "mamori.records.actions."
O = "mamori.operations.actions."  # noqa: E741
OS = "mamori.operations.actions_staff."


def _staff_enrolled(c):
    from mamori.operations import mfa

    staff, secret = _staff(c), mfa.new_secret()
    ACTIONS[OS + "enrol_staff_totp"](staff=staff, secret=secret, code=mfa.code_for(secret, mfa.current_step()))
    return staff
SC = "mamori.scim.actions."


def _scim_token(c):
    return ACTIONS[SC + "create_scim_token"](actor=c.actor, name="IdP")[0]


def _scim(c):
    from mamori.scim.actions import scim_actor

    return scim_actor(_scim_token(c))


def _scim_user(c):
    from mamori.scim.actions import UserData

    return ACTIONS[SC + "provision_user"](actor=_scim(c), data=UserData(user_name="u1", email="u1@acme.example"))


def _scim_update_user(c):
    from mamori.scim.actions import UserData

    return ACTIONS[SC + "update_provisioned_user"](
        actor=_scim(c), user=c.viewer.pk, data=UserData(user_name="v1", email=c.viewer.email, name="V", active=False))


def _scim_group(c):
    return ACTIONS[SC + "provision_group"](actor=_scim(c), display_name="G1")
IPA = "mamori.access.actions_allowlist."
SSO = "mamori.sso.actions."


def _sso_connection(c):
    return ACTIONS[SSO + "save_connection"](actor=c.actor, name="IdP", issuer="https://idp.example.com",
                                             client_id="mamori", client_secret="s", enabled=True, jit_enabled=True)

AT = "mamori.records.actions_attachments."


def _with_attachment(c, then=None):
    """Upload a small file into a throw-away storage directory, then optionally act on it."""
    import io
    import tempfile

    from django.test import override_settings

    with tempfile.TemporaryDirectory() as root, override_settings(STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
        record = _record(c)
        attachment = ACTIONS[AT + "upload_attachment"](actor=c.actor, record_id=record.pk,
                                                        file=io.BytesIO(b"%PDF-1.4 x"), filename="a.pdf", size=10)
        return then(record, attachment) if then else attachment


TB = "mamori.lifecycle.actions_tenant_backup."
TM = "mamori.lifecycle.actions_termination."


def _terminated(c):
    """A second tenant whose contract the provider terminated (grace period running)."""
    return c.outside_tenant(lambda: ACTIONS[TM + "terminate_tenant"](
        actor=Actor.system("test"), tenant=_second_tenant(), grace_days=30))


def _purged(c):
    from mamori.lifecycle.purge import purge_termination

    return c.outside_tenant(lambda: purge_termination(_terminated(c).pk, actor=Actor.system("test"), force=True))
EX = "mamori.lifecycle.actions_export."


def _tenant_export(c):
    return ACTIONS[EX + "request_tenant_export"](actor=c.actor, enqueue=False)


def _tenant_backup(c, *, remove: bool = False):
    """A real per-tenant backup of the test tenant (``remove``: then delete its file again)."""
    from mamori.lifecycle.tenant_backup import delete_quietly
    from mamori.lifecycle.tenant_backup_jobs import take_backup

    backup = c.outside_tenant(lambda: take_backup(c.tenant, actor=Actor.system("t")))
    if remove:
        delete_quietly(backup.storage_name)
    return backup


def _restore_tenant_backup(c):
    from mamori.lifecycle.tenant_backup import delete_quietly

    backup = _tenant_backup(c)
    try:
        c.outside_tenant(lambda: ACTIONS[TB + "restore_tenant_backup"](
            actor=Actor.system("t"), backup=backup, mode="in_place", confirmed=True))
    finally:
        delete_quietly(backup.storage_name)


def _prune_tenant_backups(c):
    from mamori.lifecycle.models import TenantBackup

    old = _tenant_backup(c, remove=True)
    _tenant_backup(c, remove=True)
    TenantBackup.objects.filter(pk=old.pk).update(taken_at=timezone.now() - timedelta(days=30))
    c.outside_tenant(lambda: ACTIONS[TB + "prune_tenant_backups"](actor=Actor.system("t"), tenant=c.tenant,
                                                                    keep_days=14))


IN = "mamori.incidents.actions."
IR = "mamori.incidents.actions_reports."


def _officer(c):
    from mamori.operations.actions import create_staff
    from mamori.operations.models import ProviderStaff

    return ProviderStaff.objects.filter(email="so@provider.example").first() or create_staff(
        actor=Actor.system("test"), email="so@provider.example", password="a long staff password 1",
        role="security_officer")


def _incident(c):
    return c.outside_tenant(lambda: ACTIONS[IN + "create_incident"](
        staff=_officer(c), title_ja="障害", title_en="Outage", severity="high", started_at=timezone.now(),
        detected_at=timezone.now(), components=["api"], tenant_ids=[c.tenant.pk]))


def _notified(c):
    return c.outside_tenant(lambda: ACTIONS[IN + "notify_affected_tenants"](
        staff=_officer(c), incident=_incident(c), text_ja="通知", text_en="Notice", enqueue=False))


def _security_report(c):
    return ACTIONS[IR + "submit_security_report"](client_ip="192.0.2.1", subject="s", body="b")


NO = "mamori.notices.actions."


def _notice_staff(c):
    from mamori.operations.actions import create_staff
    from mamori.operations.models import ProviderStaff

    return ProviderStaff.objects.filter(email="notices@provider.example").first() or create_staff(
        actor=Actor.system("test"), email="notices@provider.example", password="a long staff password 1")


def _notice(c, publish=False):
    from tests.notices.conftest import maintenance

    def make():
        notice = ACTIONS[NO + "create_notice"](staff=_notice_staff(c), data=maintenance())
        return ACTIONS[NO + "publish_notice"](staff=_notice_staff(c), notice_id=notice.pk) if publish else notice

    return c.outside_tenant(make)


def _notice_reminder(c):
    notice = _notice(c, publish=True)
    return c.outside_tenant(lambda: ACTIONS[NO + "send_reminder"](
        notice_id=notice.pk, now=notice.starts_at - timedelta(hours=23)))


SU = "mamori.support.actions."


def _support_request(c):
    return ACTIONS[SU + "create_request"](staff=_staff(c), tenant=c.tenant, reason="Ticket 1", scope="read_only",
                                          hours=2)


def _support_grant(c):
    return ACTIONS[SU + "approve_request"](actor=c.actor, tenant=c.tenant, grant_id=_support_request(c).pk)


def _staff_of(grant):
    from mamori.operations.models import ProviderStaff

    return ProviderStaff.objects.get(pk=grant.staff_id)


CALLS: dict[str, Callable] = {
    # record attachments
    AT + "upload_attachment": lambda c: _with_attachment(c),
    AT + "delete_attachment": lambda c: _with_attachment(c, lambda r, a: ACTIONS[AT + "delete_attachment"](
        actor=c.actor, record_id=r.pk, attachment_id=a.pk)),
    AT + "open_attachment": lambda c: _with_attachment(c, lambda r, a: ACTIONS[AT + "open_attachment"](
        actor=c.actor, record_id=r.pk, attachment_id=a.pk)),
    AT + "set_attachment_limit": lambda c: ACTIONS[AT + "set_attachment_limit"](actor=c.actor, max_bytes=1000),
    AT + "set_provider_attachment_limit": lambda c: ACTIONS[AT + "set_provider_attachment_limit"](
        staff=_staff(c), tenant=c.tenant, max_bytes=1000),
    # accounts
    A + "create_user": lambda c: ACTIONS[A + "create_user"](actor=c.actor, email="new@acme.example",
                                                             role=Role.VIEWER),
    A + "issue_login_link": lambda c: ACTIONS[A + "issue_login_link"](actor=c.actor, user=c.viewer),
    A + "consume_login_link": _login_link,
    A + "set_password": lambda c: ACTIONS[A + "set_password"](actor=Actor.for_user(c.viewer), user=c.viewer,
                                                               password="another long passphrase 42"),
    A + "create_api_token": lambda c: ACTIONS[A + "create_api_token"](actor=c.actor, user=c.admin, name="t"),
    # accounts: user lifecycle
    A + "invite_user": lambda c: _invite(c),
    A + "resend_invitation": lambda c: ACTIONS[A + "resend_invitation"](actor=c.actor, user=_invite(c).user),
    A + "cancel_invitation": lambda c: ACTIONS[A + "cancel_invitation"](actor=c.actor, user=_invite(c).user),
    A + "accept_invitation": _accept_invitation,
    A + "update_user": lambda c: ACTIONS[A + "update_user"](actor=c.actor, user=c.viewer, name="V", role=Role.EDITOR),
    A + "suspend_user": lambda c: ACTIONS[A + "suspend_user"](actor=c.actor, user=c.viewer),
    A + "reactivate_user": lambda c: ACTIONS[A + "reactivate_user"](
        actor=c.actor, user=ACTIONS[A + "suspend_user"](actor=c.actor, user=c.viewer)),
    A + "delete_user": lambda c: ACTIONS[A + "delete_user"](actor=c.actor, user=c.viewer),
    A + "end_sessions": lambda c: ACTIONS[A + "end_sessions"](actor=c.actor, user=c.viewer),
    A + "change_password": lambda c: ACTIONS[A + "change_password"](
        actor=Actor.for_user(c.viewer), user=c.viewer, current_password="correct horse battery staple",
        password="another long passphrase 42"),
    A + "revoke_api_token": lambda c: ACTIONS[A + "revoke_api_token"](
        actor=c.actor, token_id=ACTIONS[A + "create_api_token"](actor=c.actor, user=c.admin, name="t")[0].pk),
    # CSV bulk user management (one file creates, updates and deactivates)
    "mamori.accounts.actions_csv.apply_user_import": lambda c: ACTIONS["mamori.accounts.actions_csv.apply_user_import"](
        actor=c.actor, data=f"email,name,action\r\ncsv@acme.example,C,\r\n{c.viewer.email},,deactivate\r\n".encode()),
    "mamori.accounts.actions_signins.record_signin_export": lambda c: ACTIONS[
        "mamori.accounts.actions_signins.record_signin_export"](actor=c.actor, filters={"result": "failure"}),
    "mamori.accounts.actions_policy.update_password_policy": lambda c: ACTIONS[
        "mamori.accounts.actions_policy.update_password_policy"](actor=c.actor, history_count=3),
    # Sessions (mamori.accounts.actions_sessions)
    "mamori.accounts.actions_sessions.update_session_policy": lambda c: ACTIONS[
        "mamori.accounts.actions_sessions.update_session_policy"](actor=c.actor, idle_timeout_minutes=15),
    "mamori.accounts.actions_sessions.end_all_sessions": lambda c: ACTIONS[
        "mamori.accounts.actions_sessions.end_all_sessions"](actor=c.actor),
    "mamori.accounts.actions_sessions.end_own_session": lambda c: ACTIONS[
        "mamori.accounts.actions_sessions.end_own_session"](actor=c.actor, session_id=__import__(
            "tests.accounts.test_sessions", fromlist=["other_session"]).other_session(c.actor.user).pk),
    # MFA (mamori.multifactor.actions)
    "mamori.multifactor.actions.update_mfa_policy": lambda c: ACTIONS[
        "mamori.multifactor.actions.update_mfa_policy"](actor=c.actor, requirement="everyone"),
    "mamori.multifactor.actions.reset_mfa": lambda c: (
        __import__("tests.multifactor.helpers", fromlist=["enrol"]).enrol(c.viewer),
        ACTIONS["mamori.multifactor.actions.reset_mfa"](actor=c.actor, user=c.viewer))[-1],
    # IP allowlist (mamori.access.actions_allowlist)
    IPA + "save_allowlist": lambda c: ACTIONS[IPA + "save_allowlist"](
        actor=c.actor, enabled=True, entries=[("203.0.113.0/24", "office")], current_ip="203.0.113.1"),
    IPA + "record_ip_blocked": lambda c: ACTIONS[IPA + "record_ip_blocked"](
        actor=Actor.anonymous("198.51.100.1"), ip="198.51.100.1", surface="console", path="/t/acme/"),
    IPA + "start_allowlist_override": lambda c: ACTIONS[IPA + "start_allowlist_override"](
        staff=_staff(c), tenant=c.tenant, minutes=30, reason="Ticket 1: customer locked out"),
    IPA + "end_allowlist_override": lambda c: ACTIONS[IPA + "end_allowlist_override"](
        staff=ACTIONS[IPA + "start_allowlist_override"](
            staff=_staff(c), tenant=c.tenant, minutes=30, reason="Ticket 1: customer locked out").staff,
        tenant=c.tenant),
    # records
    R + "create_workspace": lambda c: _ws(c),
    R + "update_workspace": lambda c: ACTIONS[R + "update_workspace"](actor=c.actor, workspace_id=_ws(c).pk,
                                                                       name="WS2"),
    R + "delete_workspace": lambda c: ACTIONS[R + "delete_workspace"](actor=c.actor, workspace_id=_ws(c).pk),
    R + "add_workspace_member": lambda c: ACTIONS[R + "add_workspace_member"](
        actor=c.actor, workspace_id=_ws(c).pk, user_id=c.viewer.pk),
    R + "remove_workspace_member": lambda c: ACTIONS[R + "remove_workspace_member"](
        actor=c.actor, workspace_id=ACTIONS[R + "add_workspace_member"](
            actor=c.actor, workspace_id=_ws(c).pk, user_id=c.viewer.pk).workspace_id, user_id=c.viewer.pk),
    R + "create_label": lambda c: _label(c),
    R + "update_label": lambda c: ACTIONS[R + "update_label"](actor=c.actor, label_id=_label(c).pk, name="L2"),
    R + "delete_label": lambda c: ACTIONS[R + "delete_label"](actor=c.actor, label_id=_label(c).pk),
    R + "create_record": lambda c: _record(c),
    R + "update_record": lambda c: ACTIONS[R + "update_record"](actor=c.actor, record_id=_record(c).pk,
                                                                 title="R2"),
    R + "delete_record": lambda c: ACTIONS[R + "delete_record"](actor=c.actor, record_id=_record(c).pk),
    R + "comment_on_record": lambda c: ACTIONS[R + "comment_on_record"](actor=c.actor, record_id=_record(c).pk,
                                                                         body="Looks good"),
    R + "review_record": lambda c: ACTIONS[R + "review_record"](actor=c.actor, record_id=_record(c).pk,
                                                                 decision="approved"),
    # organizational units (mamori.access)
    U + "create_unit": lambda c: _unit(c),
    U + "update_unit": lambda c: ACTIONS[U + "update_unit"](actor=c.actor, unit_id=_unit(c).pk, name="Sales 2"),
    U + "move_unit": lambda c: ACTIONS[U + "move_unit"](actor=c.actor, unit_id=_unit(c, "Tokyo").pk,
                                                         parent_id=_unit(c).pk),
    U + "delete_unit": lambda c: ACTIONS[U + "delete_unit"](actor=c.actor, unit_id=_unit(c).pk),
    U + "add_unit_member": lambda c: ACTIONS[U + "add_unit_member"](actor=c.actor, unit_id=_unit(c).pk,
                                                                     user_id=c.viewer.pk),
    U + "remove_unit_member": lambda c: ACTIONS[U + "remove_unit_member"](
        actor=c.actor, unit_id=ACTIONS[U + "add_unit_member"](actor=c.actor, unit_id=_unit(c).pk,
                                                              user_id=c.viewer.pk).unit_id, user_id=c.viewer.pk),
    U + "set_unit_members": lambda c: ACTIONS[U + "set_unit_members"](actor=c.actor, unit_id=_unit(c).pk,
                                                                       user_ids=[c.viewer.pk]),
    U + "assign_unit_admin": lambda c: _unit_admin(c),
    U + "remove_unit_admin": lambda c: ACTIONS[U + "remove_unit_admin"](
        actor=c.actor, unit_id=_unit_admin(c).unit_id, user_id=c.viewer.pk),
    # tenancy (provider side: writes to the provider log and the new tenant's log)
    "mamori.tenancy.actions.create_tenant": lambda c: c.outside_tenant(
        lambda: ACTIONS["mamori.tenancy.actions.create_tenant"](
            actor=Actor.system("test"), slug="initech", name="Initech", admin_email="boss@initech.example")),
    # operations (provider log)
    O + "create_staff": _staff,
    O + "staff_sign_in": lambda c: ACTIONS[O + "staff_sign_in"](email=_staff(c).email,
                                                                 password="a long staff password 1"),
    O + "staff_sign_out": lambda c: ACTIONS[O + "staff_sign_out"](staff=_staff(c)),
    O + "staff_session_expired": lambda c: ACTIONS[O + "staff_session_expired"](staff=_staff(c), idle_minutes=31),
    O + "record_outbox_view": lambda c: ACTIONS[O + "record_outbox_view"](staff=_staff(c), message=_outbox(c)),
    # provider staff MFA, schedules, dependency audits (mamori.operations.actions_staff/_schedules/_security)
    OS + "staff_password_step": lambda c: ACTIONS[OS + "staff_password_step"](
        email=_staff(c).email, password="a long staff password 1"),
    OS + "enrol_staff_totp": lambda c: _staff_enrolled(c),
    OS + "verify_staff_totp": lambda c: ACTIONS[OS + "verify_staff_totp"](staff=_staff_enrolled(c), code="000000"),
    OS + "reset_staff_mfa": lambda c: ACTIONS[OS + "reset_staff_mfa"](actor=Actor.system("test"), staff=_staff(c)),
    OS + "deactivate_staff": lambda c: ACTIONS[OS + "deactivate_staff"](actor=Actor.system("test"), staff=_staff(c)),
    "mamori.operations.actions_schedules.run_job_now": lambda c: c.outside_tenant(
        lambda: ACTIONS["mamori.operations.actions_schedules.run_job_now"](actor=Actor.system("test"),
                                                                            name="audit.daily_digests")),
    "mamori.operations.actions_security.record_vulnerability_audit": lambda c: c.outside_tenant(
        lambda: ACTIONS["mamori.operations.actions_security.record_vulnerability_audit"](
            actor=Actor.system("test"), started_at=timezone.now(), report=None, error="service unreachable")),
    O + "bootstrap_demo": lambda c: c.outside_tenant(lambda: (
        ACTIONS["mamori.tenancy.actions.create_tenant"](actor=Actor.system("test"), slug="demo", name="Demo",
                                                        admin_email="admin@demo.example"),
        ACTIONS[O + "bootstrap_demo"](actor=Actor.system("test")))),
    # evidence (retention, purge, export)
    E + "set_retention": lambda c: ACTIONS[E + "set_retention"](actor=c.actor, category=_category(), days=None),
    E + "purge_tenant_log": lambda c: ACTIONS[E + "purge_tenant_log"](actor=Actor.system("test"), now=_far_future()),
    E + "purge_provider_log": lambda c: ACTIONS[E + "purge_provider_log"](actor=Actor.system("test"),
                                                                           now=_far_future()),
    E + "request_export": lambda c: _export(c),
    E + "finish_export": lambda c: ACTIONS[E + "finish_export"](export_id=_export(c).pk, ok=True),
    E + "record_download": lambda c: ACTIONS[E + "record_download"](actor=c.actor, export=_export(c)),
    E + "delete_expired_exports": lambda c: ACTIONS[E + "delete_expired_exports"](
        actor=Actor.system("test"), now=_export_with_file(c).expires_at),
    # SIEM webhooks
    S + "create_subscription": lambda c: _subscription(c),
    S + "update_subscription": lambda c: ACTIONS[S + "update_subscription"](
        actor=c.actor, subscription_id=_subscription(c).pk, description="changed"),
    S + "delete_subscription": lambda c: ACTIONS[S + "delete_subscription"](
        actor=c.actor, subscription_id=_subscription(c).pk),
    S + "disable_subscription": lambda c: ACTIONS[S + "disable_subscription"](
        actor=c.actor, subscription_id=_subscription(c).pk),
    S + "disable_after_failures": lambda c: ACTIONS[S + "disable_after_failures"](
        actor=Actor.system("siem"), subscription_id=_subscription(c).pk, reason="endpoint down"),
    S + "enable_subscription": lambda c: ACTIONS[S + "enable_subscription"](
        actor=c.actor, subscription_id=ACTIONS[S + "disable_subscription"](
            actor=c.actor, subscription_id=_subscription(c).pk).pk),
    S + "send_test_event": lambda c: ACTIONS[S + "send_test_event"](
        actor=c.actor, subscription_id=_subscription(c).pk),
    # SCIM provisioning
    SC + "create_scim_token": _scim_token,
    SC + "revoke_scim_token": lambda c: ACTIONS[SC + "revoke_scim_token"](actor=c.actor, token_id=_scim_token(c).pk),
    SC + "record_auth_failure": lambda c: ACTIONS[SC + "record_auth_failure"](prefix="0123456789ab", reason="revoked"),
    SC + "record_refusal": lambda c: ACTIONS[SC + "record_refusal"](actor=_scim(c), method="GET", path="/scim/v2/Users",
                                                                    status=400, scim_type="invalidFilter"),
    SC + "provision_user": _scim_user,
    SC + "update_provisioned_user": _scim_update_user,
    SC + "deprovision_user": lambda c: ACTIONS[SC + "deprovision_user"](actor=_scim(c), user=_scim_user(c).pk),
    SC + "provision_group": _scim_group,
    SC + "update_provisioned_group": lambda c: ACTIONS[SC + "update_provisioned_group"](
        actor=_scim(c), unit_id=_scim_group(c).pk, display_name="G2", external_id="x", member_ids=[c.viewer.pk]),
    SC + "deprovision_group": lambda c: ACTIONS[SC + "deprovision_group"](actor=_scim(c), unit_id=_scim_group(c).pk),
    # Single sign-on (mamori.sso)
    SSO + "save_connection": _sso_connection,
    SSO + "provision_user": lambda c: ACTIONS[SSO + "provision_user"](
        connection=_sso_connection(c), email="jit@acme.example", name="J", uid="https://idp.example.com#j"),
    SSO + "link_identity": lambda c: ACTIONS[SSO + "link_identity"](
        connection=_sso_connection(c), user=c.viewer, uid="https://idp.example.com#v", extra_data={}),
    # Data keys (mamori.lifecycle)
    K + "start_tenant_key_rotation": lambda c: ACTIONS[K + "start_tenant_key_rotation"](actor=c.actor),
    K + "finish_tenant_key_rotation": lambda c: ACTIONS[K + "finish_tenant_key_rotation"](
        actor=c.actor, reencrypted=ACTIONS[K + "start_tenant_key_rotation"](actor=c.actor).version * 0),
    K + "rotate_master_key": _rotate_master_and_back,
    K + "destroy_tenant_keys": lambda c: c.outside_tenant(lambda: ACTIONS[K + "destroy_tenant_keys"](
        actor=Actor.system("test"), tenant=_second_tenant())),
    # System backups (mamori.lifecycle.actions_backup)
    BK + "record_backup_created": lambda c: _backup_row(),
    BK + "record_backup_failed": lambda c: ACTIONS[BK + "record_backup_failed"](actor=Actor.system("t"),
                                                                                 error="disk full"),
    BK + "record_backup_verified": lambda c: ACTIONS[BK + "record_backup_verified"](
        actor=Actor.system("t"), file_name=_backup_row().file_name, ok=True),
    BK + "record_backups_pruned": lambda c: ACTIONS[BK + "record_backups_pruned"](
        actor=Actor.system("t"), kept={}, deleted=[_backup_row().file_name]),
    BK + "record_backup_restored": lambda c: ACTIONS[BK + "record_backup_restored"](
        actor=Actor.system("t"), file_name=_backup_row().file_name, target="/tmp/x.sqlite3", live=False),
    BK + "start_restore_drill": lambda c: ACTIONS[BK + "start_restore_drill"](actor=Actor.system("t"),
                                                                               backup_file="b.mbk"),
    BK + "finish_restore_drill": lambda c: ACTIONS[BK + "finish_restore_drill"](
        actor=Actor.system("t"), drill_id=ACTIONS[BK + "start_restore_drill"](
            actor=Actor.system("t"), backup_file="b.mbk").pk, ok=True, checks=[], figures={}),
    # Per-tenant backups (mamori.lifecycle.actions_tenant_backup)
    TB + "record_tenant_backup": lambda c: _tenant_backup(c, remove=True),
    TB + "record_tenant_backup_failure": lambda c: c.outside_tenant(lambda: ACTIONS[TB + "record_tenant_backup_failure"](
        actor=Actor.system("t"), tenant=c.tenant, error="disk full")),
    TB + "restore_tenant_backup": _restore_tenant_backup,
    TB + "prune_tenant_backups": _prune_tenant_backups,
    # Full tenant export (mamori.lifecycle.actions_export)
    EX + "request_tenant_export": lambda c: _tenant_export(c),
    EX + "finish_tenant_export": lambda c: ACTIONS[EX + "finish_tenant_export"](
        export_id=_tenant_export(c).pk, ok=False, error="disk full"),
    EX + "record_export_download": lambda c: ACTIONS[EX + "record_export_download"](
        actor=c.actor, export=_tenant_export(c)),
    EX + "delete_expired_tenant_exports": lambda c: ACTIONS[EX + "delete_expired_tenant_exports"](
        actor=Actor.system("test"), now=ACTIONS[EX + "finish_tenant_export"](
            export_id=_tenant_export(c).pk, ok=True, file_path="tenants/0/exports/none.zip").expires_at),
    # Contract termination and purge (mamori.lifecycle.actions_termination)
    TM + "request_termination": lambda c: ACTIONS[TM + "request_termination"](actor=c.actor,
                                                                              confirm_slug=c.tenant.slug),
    TM + "terminate_tenant": _terminated,
    TM + "cancel_termination": lambda c: c.outside_tenant(lambda: ACTIONS[TM + "cancel_termination"](
        actor=Actor.system("test"), tenant=_terminated(c).tenant)),
    TM + "set_grace_period": lambda c: c.outside_tenant(lambda: ACTIONS[TM + "set_grace_period"](
        actor=Actor.system("test"), tenant=c.tenant, days=60)),
    TM + "send_termination_reminder": lambda c: c.outside_tenant(lambda: ACTIONS[TM + "send_termination_reminder"](
        termination=_terminated(c), days=7)),
    TM + "begin_purge": lambda c: c.outside_tenant(lambda: ACTIONS[TM + "begin_purge"](
        actor=Actor.system("test"), termination=_terminated(c), force=True)),
    TM + "finish_purge": _purged,
    # Monitoring: clock state and probe roll-up (mamori.monitoring.actions)
    "mamori.monitoring.actions.change_clock_state": lambda c: c.outside_tenant(
        lambda: ACTIONS["mamori.monitoring.actions.change_clock_state"](
            state="offset", offset_ms=1500.0, server="ntp.example", reason="|offset| 1500.0 ms > 1000 ms")),
    "mamori.monitoring.actions.roll_up_probe_results": lambda c: c.outside_tenant(
        lambda: ACTIONS["mamori.monitoring.actions.roll_up_probe_results"]()),
    # Incidents and security reports (mamori.incidents)
    IN + "create_incident": _incident,
    IN + "update_incident": lambda c: c.outside_tenant(lambda: ACTIONS[IN + "update_incident"](
        staff=_officer(c), incident=_incident(c), state="identified")),
    IN + "add_incident_update": lambda c: c.outside_tenant(lambda: ACTIONS[IN + "add_incident_update"](
        staff=_officer(c), incident=_incident(c), text_ja="公開", text_en="public", public=True)),
    IN + "notify_affected_tenants": _notified,
    IN + "record_delivery": lambda c: c.outside_tenant(lambda: ACTIONS[IN + "record_delivery"](
        delivery=_notified(c).deliveries.filter(channel="email").first(), sent_at=timezone.now())),
    IN + "flag_deadline": lambda c: c.outside_tenant(lambda: ACTIONS[IN + "flag_deadline"](
        affected=_incident(c).affected.get(), kind="overdue")),
    IN + "set_notification_policy": lambda c: c.outside_tenant(lambda: ACTIONS[IN + "set_notification_policy"](
        staff=_officer(c), tenant=c.tenant, preset="within_24h")),
    IR + "submit_security_report": lambda c: c.outside_tenant(lambda: _security_report(c)),
    IR + "triage_security_report": lambda c: c.outside_tenant(lambda: ACTIONS[IR + "triage_security_report"](
        staff=_officer(c), report=_security_report(c), state="triaged")),
    # Notices (mamori.notices)
    NO + "create_notice": _notice,
    NO + "update_notice": lambda c: c.outside_tenant(lambda: ACTIONS[NO + "update_notice"](
        staff=_notice_staff(c), notice_id=_notice(c).pk,
        data=__import__("tests.notices.conftest", fromlist=["maintenance"]).maintenance(title_en="Changed"))),
    NO + "publish_notice": lambda c: _notice(c, publish=True),
    NO + "cancel_notice": lambda c: c.outside_tenant(lambda: ACTIONS[NO + "cancel_notice"](
        staff=_notice_staff(c), notice_id=_notice(c).pk, reason="Postponed")),
    NO + "send_reminder": _notice_reminder,
    NO + "retry_failed_deliveries": lambda c: c.outside_tenant(lambda: (
        __import__("mamori.notices.models", fromlist=["NoticeDelivery"]).NoticeDelivery.objects.create(
            notice=_notice(c, publish=True), tenant=c.tenant, channel="mail", address="x@acme.example",
            error="SMTPServerDisconnected"),
        ACTIONS[NO + "retry_failed_deliveries"](staff=_notice_staff(c), notice_id=__import__(
            "mamori.notices.models", fromlist=["Notice"]).Notice.objects.latest("pk").pk))[-1]),
    NO + "dismiss_notice": lambda c: ACTIONS[NO + "dismiss_notice"](actor=c.actor, notice_id=_notice(c, publish=True).pk),
    NO + "set_notification_email": lambda c: ACTIONS[NO + "set_notification_email"](
        actor=c.actor, email="it-desk@acme.example"),
    # Support access (mamori.support.actions)
    SU + "create_request": _support_request,
    SU + "cancel_request": lambda c: (lambda g: ACTIONS[SU + "cancel_request"](
        staff=_staff_of(g), tenant=c.tenant, grant_id=g.pk))(_support_request(c)),
    SU + "approve_request": _support_grant,
    SU + "refuse_request": lambda c: ACTIONS[SU + "refuse_request"](
        actor=c.actor, tenant=c.tenant, grant_id=_support_request(c).pk, note="No"),
    SU + "shorten_access": lambda c: ACTIONS[SU + "shorten_access"](
        actor=c.actor, tenant=c.tenant, grant_id=_support_grant(c).pk, hours=1),
    SU + "revoke_access": lambda c: ACTIONS[SU + "revoke_access"](
        actor=c.actor, tenant=c.tenant, grant_id=_support_grant(c).pk),
    SU + "expire_access": lambda c: (lambda g: ACTIONS[SU + "expire_access"](
        tenant=c.tenant, grant_id=g.pk, now=g.approved_until))(_support_grant(c)),
    SU + "start_session": lambda c: (lambda g: ACTIONS[SU + "start_session"](
        staff=_staff_of(g), tenant=c.tenant, grant_id=g.pk))(_support_grant(c)),
    SU + "end_session": lambda c: ACTIONS[SU + "end_session"](tenant=c.tenant, grant=_support_grant(c), reason="test"),
    SU + "record_page_view": lambda c: ACTIONS[SU + "record_page_view"](
        grant=_support_grant(c), method="GET", path="/t/acme/", status=200),
    # Control checks (mamori.compliance.actions)
    "mamori.compliance.actions.record_control_run": lambda c: c.outside_tenant(
        lambda: __import__("mamori.compliance.runner", fromlist=["run_checks"]).run_checks(keys=["6.1.1"])),
    "mamori.compliance.actions.record_controls_export": lambda c: c.outside_tenant(
        lambda: ACTIONS["mamori.compliance.actions.record_controls_export"](
            actor=Actor.system("test"), date_from="2026-01-01", date_to="2026-01-31", files={"a.json": "0" * 64})),
}


def test_every_action_is_in_the_table():
    missing = sorted(set(ACTIONS) - set(CALLS))
    assert not missing, (
        "Actions without a coverage entry in tests/audit/test_coverage.py CALLS "
        f"(add how to call each with valid arguments): {missing}")


def test_table_has_no_stale_entries():
    assert not sorted(set(CALLS) - set(ACTIONS))


def _newest_ids() -> dict:
    """Newest event id per chain: every tenant's log (inside its tenant) and the provider log."""
    from mamori.tenancy.models import Tenant

    newest = {None: ProviderEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0}
    for tenant in Tenant.objects.all():
        with use_tenant(tenant):
            newest[tenant.pk] = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return newest


def _written_since(before: dict) -> list[str]:
    from mamori.tenancy.models import Tenant

    written = list(ProviderEvent.objects.filter(id__gt=before[None]).values_list("action", flat=True))
    for tenant in Tenant.objects.all():
        with use_tenant(tenant):
            written += AuditEvent.objects.filter(id__gt=before.get(tenant.pk, 0)).values_list("action", flat=True)
    return written


@pytest.mark.parametrize("name", sorted(CALLS))
def test_action_writes_a_registered_event(name, tenant, admin, viewer):
    if name not in ACTIONS:
        pytest.skip(f"{name} is not an action in this build")

    def outside_tenant(fn):
        with use_tenant(None):
            return fn()

    ctx = SimpleNamespace(tenant=tenant, admin=admin, viewer=viewer, actor=Actor.for_user(admin),
                          outside_tenant=outside_tenant)
    before = _newest_ids()
    CALLS[name](ctx)
    with use_tenant(tenant):
        written = _written_since(before)
    assert written, f"{name} wrote no audit event"
    unregistered = [a for a in written if a not in EVENT_TYPES]
    assert not unregistered, f"{name} wrote unregistered events {unregistered}"


SECRET_KEYS = ("password", "token", "secret", "totp_secret", "api_key", "private_key", "dek")
SECRET_VALUE = "s3cr3t-VALUE-must-not-appear"


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_redactor_removes_secrets_from_every_event(name, tenant, admin):
    """Feed every registered event, with secret-looking keys at several depths, through the writer."""
    from django.db import transaction

    from mamori.audit.events import record_event, record_provider_event

    secrets = {key: SECRET_VALUE for key in SECRET_KEYS}
    secrets.update({key.upper(): SECRET_VALUE for key in SECRET_KEYS})
    payload = {"ok": "visible", **secrets, "nested": {**secrets, "list": [secrets, {"deeper": secrets}]}}
    assert SECRET_VALUE not in repr(redact(payload))
    with transaction.atomic():
        if EVENT_TYPES[name].category == "provider":
            event = record_provider_event(name, actor=Actor.for_user(admin), before=payload, after=payload)
        else:
            event = record_event(name, actor=Actor.for_user(admin), before=payload, after=payload)
    event.refresh_from_db()
    stored = repr((event.before, event.after))
    assert SECRET_VALUE not in stored
    assert event.after["ok"] == "visible" and event.after["password"] == REDACTED


CODE_EVENT = re.compile(r"record_(?:provider_)?event\(\s*[\"']([a-z0-9_.]+)[\"']")


def test_every_event_name_used_in_code_is_registered():
    root = Path(mamori.__file__).resolve().parent
    used: dict[str, str] = {}
    for path in root.rglob("*.py"):
        for match in CODE_EVENT.finditer(path.read_text(encoding="utf-8")):
            used.setdefault(match.group(1), str(path.relative_to(root)))
    assert used, "the scan found no record_event calls"
    unregistered = {name: where for name, where in used.items() if name not in EVENT_TYPES}
    assert not unregistered, f"unregistered event names in code: {unregistered}"


def test_sealed_events_from_the_coverage_run_verify(tenant, admin):
    """Events written by the actions above are sealed into a chain that verifies."""
    from mamori.audit.verify import verify_across_tenants

    ACTIONS[R + "create_workspace"](actor=Actor.for_user(admin), name="Chain")
    reports = verify_across_tenants([tenant], provider=True, record=False)
    assert all(r.ok for r in reports), [r.describe() for r in reports]
