"""Retention (18.1.3): provider defaults and bounds, tenant overrides, the prefix purge."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from mamori.access.errors import PermissionDenied
from mamori.audit.canonical import chain_name
from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.audit.models import AuditDigest, AuditEvent, ProviderEvent
from mamori.audit.verify import verify_provider_chain, verify_tenant_chain
from mamori.evidence import actions, retention
from mamori.evidence.models import AuditCheckpoint, RetentionOverride
from mamori.tenancy.context import use_tenant

SYSTEM = Actor.system("test")


# --- Policy, bounds and overrides ----------------------------------------------------------

def test_provider_defaults(settings):
    assert settings.AUDIT_RETENTION_DAYS == {"operation": 365, "signin": 0, "api": 90, "provider": 365}


def test_tenant_policy_uses_defaults_then_overrides(admin):
    assert retention.tenant_policy() == {"operation": 365, "signin": 0, "api": 90}
    actions.set_retention(actor=Actor.for_user(admin), category="api", days=180)
    assert retention.tenant_policy()["api"] == 180
    event = AuditEvent.objects.filter(action="audit.retention_changed").latest("seq")
    assert event.before["days"] is None and event.after == {"category": "api", "days": 180}
    actions.set_retention(actor=Actor.for_user(admin), category="api", days=None)
    assert retention.tenant_policy()["api"] == 90
    assert not RetentionOverride.objects.exists()


@pytest.mark.parametrize("category,days", [("operation", 10), ("api", 29), ("signin", 1), ("api", -1)])
def test_values_below_the_bounds_are_field_errors(admin, category, days):
    with pytest.raises(ValidationError) as info:
        actions.set_retention(actor=Actor.for_user(admin), category=category, days=days)
    assert "days" in info.value.message_dict
    assert not RetentionOverride.objects.exists()


def test_upper_bound_and_forever(admin, settings):
    by_admin = Actor.for_user(admin)
    actions.set_retention(actor=by_admin, category="operation", days=0)  # no upper bound: forever is fine
    settings.AUDIT_RETENTION_BOUNDS = {**settings.AUDIT_RETENTION_BOUNDS, "operation": (90, 730)}
    for days in (0, 731):
        with pytest.raises(ValidationError) as info:
            actions.set_retention(actor=by_admin, category="operation", days=days)
        assert "days" in info.value.message_dict
    actions.set_retention(actor=by_admin, category="operation", days=730)
    assert retention.tenant_policy()["operation"] == 730


def test_unknown_category_is_a_field_error(admin):
    with pytest.raises(ValidationError) as info:
        actions.set_retention(actor=Actor.for_user(admin), category="provider", days=400)
    assert "category" in info.value.message_dict


def test_only_tenant_admins_set_retention(editor, viewer):
    for user in (editor, viewer):
        with pytest.raises(PermissionDenied):
            actions.set_retention(actor=Actor.for_user(user), category="api", days=120)
    assert not RetentionOverride.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").count() == 2


# --- The purge -------------------------------------------------------------------------------

def _at(when):
    return mock.patch("django.utils.timezone.now", return_value=when)


def _events(action: str, count: int, when) -> list[int]:
    with _at(when), transaction.atomic():
        return [record_event(action, actor=SYSTEM, after={"i": i}).seq for i in range(count)]


@pytest.fixture
def old_tenant(make_tenant):
    """A tenant created 400 days ago: its log starts with old events."""
    now = timezone.now()
    with _at(now - timedelta(days=400)):
        tenant = make_tenant("oldco", "Old Co")
    with use_tenant(tenant):
        _events("record.created", 5, now - timedelta(days=399))
        signin = _events("auth.login", 1, now - timedelta(days=398))[0]
        _events("record.updated", 3, now - timedelta(days=397))
        _events("record.updated", 2, now - timedelta(days=10))
        yield tenant, signin, now


def test_purge_removes_exactly_the_expired_prefix_and_checkpoints(old_tenant):
    tenant, signin_seq, now = old_tenant
    before = list(AuditEvent.objects.order_by("seq").values_list("seq", "hash"))
    report = actions.purge_expired_events(actor=SYSTEM, now=now)
    # Sign-in history is kept for the contract's life, so the prefix ends before the first sign-in.
    through = signin_seq - 1
    assert dict(report.plans)["oldco"].purged_through_seq == through
    remaining = list(AuditEvent.objects.order_by("seq").values_list("seq", "hash"))
    assert remaining[:len(before) - through] == before[through:]
    assert remaining[0][0] == signin_seq
    checkpoint = AuditCheckpoint.objects.get(chain=chain_name(tenant.pk))
    assert checkpoint.purged_through_seq == through and checkpoint.removed_count == through
    assert checkpoint.hash_at_seq == dict(before)[through]
    assert retention.checkpoint_is_valid(checkpoint)
    assert retention.latest_checkpoint(chain_name(tenant.pk)) == (signin_seq, dict(before)[through])
    assert AuditDigest.objects.filter(chain=chain_name(tenant.pk), up_to_seq=through).exists()
    # The tenant's log says so, the provider's log too, and both chains still verify.
    purged = AuditEvent.objects.get(action="audit.purged")
    assert purged.after == {"purged_through_seq": through, "removed_count": through}
    assert ProviderEvent.objects.filter(action="audit.purged").count() == 1
    report_tenant = verify_tenant_chain(tenant)
    assert report_tenant.ok, report_tenant.describe()
    assert verify_provider_chain().ok


def test_purge_again_continues_from_the_checkpoint(old_tenant, settings):
    tenant, signin_seq, now = old_tenant
    actions.purge_expired_events(actor=SYSTEM, now=now)
    actions.set_retention(actor=SYSTEM_ADMIN(tenant), category="signin", days=180)
    report = actions.purge_expired_events(actor=SYSTEM, now=now)
    # Now the sign-in and the three old updates go too; the recent ones and newer events stay.
    plan = dict(report.plans)["oldco"]
    assert plan.removed_count == 4
    assert AuditCheckpoint.objects.filter(chain=chain_name(tenant.pk)).count() == 2
    assert retention.latest_checkpoint(chain_name(tenant.pk))[0] == plan.purged_through_seq + 1
    assert not AuditEvent.objects.filter(seq__lte=plan.purged_through_seq).exists()
    assert verify_tenant_chain(tenant).ok


def SYSTEM_ADMIN(tenant):  # noqa: N802 — a tenant admin of the old tenant
    from mamori.access.roles import Role
    from mamori.accounts.models import User

    user = User(tenant=tenant, email="admin@oldco.example", role=Role.TENANT_ADMIN)
    user.set_unusable_password()
    user.save()
    return Actor.for_user(user)


def test_never_leaves_a_hole(old_tenant):
    """An expired event after a kept one stays: only whole prefixes go."""
    tenant, signin_seq, now = old_tenant
    actions.purge_expired_events(actor=SYSTEM, now=now)
    old_updates = AuditEvent.objects.filter(action="record.updated", occurred_at__lt=now - timedelta(days=365))
    assert old_updates.count() == 3  # expired, but after the kept sign-in
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_dry_run_changes_nothing(old_tenant):
    tenant, signin_seq, now = old_tenant
    count = AuditEvent.objects.count()
    report = actions.purge_expired_events(actor=SYSTEM, now=now, dry_run=True)
    assert dict(report.plans)["oldco"].purged_through_seq == signin_seq - 1
    assert AuditEvent.objects.count() == count
    assert not AuditCheckpoint.objects.exists()
    assert not ProviderEvent.objects.filter(action="audit.purged").exists()


def test_nothing_expired_still_records_the_run(tenant):
    report = actions.purge_expired_events(actor=SYSTEM)
    assert report.plans == [] and report.removed_count == 0
    event = ProviderEvent.objects.get(action="audit.purged")
    assert event.after["removed_count"] == 0


def test_provider_log_is_purged_with_its_own_retention(db):
    now = timezone.now()
    with _at(now - timedelta(days=500)), transaction.atomic():
        for _ in range(3):
            record_provider_event("provider.login", actor=SYSTEM)
    with transaction.atomic():
        record_provider_event("provider.login", actor=SYSTEM)
    report = actions.purge_expired_events(actor=SYSTEM, now=now)
    assert dict(report.plans)["provider"].removed_count == 3
    assert retention.latest_checkpoint("provider") == (4, mock.ANY)
    assert verify_provider_chain().ok


def test_forged_checkpoint_is_refused(old_tenant):
    tenant, _signin, now = old_tenant
    actions.purge_expired_events(actor=SYSTEM, now=now)
    AuditCheckpoint.objects.filter(chain=chain_name(tenant.pk)).update(purged_through_seq=1)
    with pytest.raises(retention.CheckpointInvalid):
        retention.latest_checkpoint(chain_name(tenant.pk))


def test_verify_starts_from_the_checkpoint_without_a_digest(old_tenant):
    """`mamori audit verify` anchors on the signed checkpoint (latest_checkpoint) when no digest
    sits at the last purged sequence number, and refuses a forged checkpoint."""
    tenant, signin_seq, now = old_tenant
    actions.purge_expired_events(actor=SYSTEM, now=now)
    chain = chain_name(tenant.pk)
    AuditDigest.objects.filter(chain=chain, up_to_seq=signin_seq - 1).delete()
    assert verify_tenant_chain(tenant).ok
    AuditCheckpoint.objects.filter(chain=chain).update(hash_at_seq="0" * 64)
    report = verify_tenant_chain(tenant)
    assert not report.ok and report.first_bad_seq == signin_seq and "signature" in report.reason


def test_purge_command(old_tenant, capsys):
    _tenant, signin_seq, _now = old_tenant
    call_command("audit_purge", "--dry-run")
    out = capsys.readouterr().out
    assert f"Would remove {signin_seq - 1} events of oldco" in out
    call_command("audit", "purge")
    assert f"Removed {signin_seq - 1} events of oldco" in capsys.readouterr().out


@pytest.mark.postgres
def test_direct_delete_is_still_refused_after_a_purge(old_tenant):
    from django.db import DatabaseError, connection

    _tenant, _signin, now = old_tenant
    actions.purge_expired_events(actor=SYSTEM, now=now)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert connection.vendor == "postgresql"
