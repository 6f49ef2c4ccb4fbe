"""Support access actions: validation, who may do what, both audit logs, expiry, mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mamori.access.errors import NotFound, PermissionDenied
from mamori.access.roles import Role
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.support import actions
from mamori.support.models import SupportAccessRequest
from mamori.tenancy.context import use_tenant

State = SupportAccessRequest.State


def _request(staff, tenant, **overrides):
    fields = {"reason": "Ticket 4711", "scope": "read_only", "hours": 4, **overrides}
    with use_tenant(None):
        return actions.request_access(staff=staff, tenant=tenant, **fields)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"reason": "   "}, "reason"),
    ({"reason": "x" * 2001}, "reason"),
    ({"scope": "admin"}, "scope"),
    ({"hours": 0}, "hours"),
    ({"hours": 73}, "hours"),
    ({"hours": "soon"}, "hours"),
    ({"hours": None}, "hours"),
])
def test_bad_request_input_gives_field_errors(staff, tenant, overrides, field):
    with pytest.raises(ValidationError) as exc:
        _request(staff, tenant, **overrides)
    assert field in exc.value.message_dict
    with use_tenant(tenant):
        assert not SupportAccessRequest.objects.exists()


def test_maximum_follows_the_setting(staff, tenant, settings):
    settings.MAMORI_SUPPORT_ACCESS_MAX_HOURS = 8
    with pytest.raises(ValidationError):
        _request(staff, tenant, hours=9)
    assert _request(staff, tenant, hours=8).requested_hours == 8


def test_security_officer_may_not_request(make_staff, tenant):
    officer = make_staff("security_officer")
    with pytest.raises(PermissionDenied):
        _request(officer, tenant)
    assert ProviderEvent.objects.filter(action="access.denied", actor_id=str(officer.pk)).exists()


def test_request_is_in_both_logs_and_one_open_request_per_tenant(staff, tenant):
    grant = _request(staff, tenant)
    with use_tenant(tenant):
        event = AuditEvent.objects.get(action="support.access_requested")
        assert SupportAccessRequest.objects.get().state == State.REQUESTED
    assert event.actor_label == staff.email and event.after["reason"] == "Ticket 4711"
    provider = ProviderEvent.objects.get(action="support.access_requested")
    assert provider.tenant_ref == tenant.pk and provider.target_id == str(grant.pk)
    with pytest.raises(ValidationError) as exc:
        _request(staff, tenant)
    assert "tenant" in exc.value.message_dict


def test_approval_creates_a_support_user_never_admin(staff, tenant, admin, make_grant):
    grant = make_grant(staff, scope="read_write", hours=10, approve_hours=3)
    with use_tenant(tenant):
        grant.refresh_from_db()
        user = User.objects.get(pk=grant.support_user_id)
        approved = AuditEvent.objects.get(action="support.access_approved")
    assert grant.state == State.APPROVED and grant.decided_by_id == admin.pk
    assert timedelta(hours=2, minutes=59) < grant.approved_until - grant.decided_at <= timedelta(hours=3)
    assert user.role == Role.EDITOR and user.is_active
    assert user.email == f"{staff.email} (support access)"
    assert not User.objects_across_tenants.filter(pk=user.pk, role=Role.TENANT_ADMIN).exists()
    assert approved.after["shortened"] is True and approved.actor_label == admin.email
    assert ProviderEvent.objects.filter(action="support.access_approved", tenant_ref=tenant.pk).exists()


def test_read_only_maps_to_viewer_and_cannot_be_approved_longer_than_requested(staff, tenant, admin):
    grant = _request(staff, tenant, hours=2)
    with use_tenant(tenant):
        with pytest.raises(ValidationError) as exc:
            actions.approve_request(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk, hours=3)
        assert "hours" in exc.value.message_dict
        grant = actions.approve_request(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk)
        assert User.objects.get(pk=grant.support_user_id).role == Role.VIEWER


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_tenant_admins_decide(staff, tenant, request, who):
    user = request.getfixturevalue(who)
    grant = _request(staff, tenant)
    with use_tenant(tenant):
        for call in (actions.approve_request, actions.refuse_request):
            with pytest.raises(PermissionDenied):
                call(actor=Actor.for_user(user), tenant=tenant, grant_id=grant.pk)
        assert SupportAccessRequest.objects.get().state == State.REQUESTED
        assert AuditEvent.objects.filter(action="access.denied", actor_id=str(user.pk)).exists()


def test_refuse_then_no_more_decisions(staff, tenant, admin):
    grant = _request(staff, tenant)
    with use_tenant(tenant):
        actions.refuse_request(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk, note="Not now")
        with pytest.raises(ValidationError):
            actions.approve_request(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk)
        grant.refresh_from_db()
        assert grant.state == State.REFUSED and grant.support_user_id is None
        assert AuditEvent.objects.get(action="support.access_refused").after["note"] == "Not now"


def test_shorten_only_earlier(staff, tenant, admin, make_grant):
    grant = make_grant(staff, hours=10)
    with use_tenant(tenant):
        with pytest.raises(ValidationError) as exc:
            actions.shorten_access(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk, hours=11)
        assert "hours" in exc.value.message_dict
        grant = actions.shorten_access(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk, hours=1)
        assert grant.approved_until <= timezone.now() + timedelta(hours=1)
        assert AuditEvent.objects.filter(action="support.access_shortened").count() == 1


def test_revoke_disables_the_support_user(staff, tenant, admin, make_grant):
    grant = make_grant(staff)
    with use_tenant(tenant):
        actions.revoke_access(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk)
        grant.refresh_from_db()
        user = User.objects.get(pk=grant.support_user_id)
        assert grant.state == State.REVOKED and grant.ended_by_id == admin.pk
        assert not user.is_active
        with pytest.raises(ValidationError):
            actions.revoke_access(actor=Actor.for_user(admin), tenant=tenant, grant_id=grant.pk)
    assert ProviderEvent.objects.filter(action="support.access_revoked").exists()


def test_cancel_is_for_the_own_staff_member_only(staff, make_staff, tenant):
    other = make_staff("operator")
    grant = _request(staff, tenant)
    with use_tenant(None):
        with pytest.raises(NotFound):
            actions.cancel_request(staff=other, tenant=tenant, grant_id=grant.pk)
        actions.cancel_request(staff=staff, tenant=tenant, grant_id=grant.pk)
    with use_tenant(tenant):
        assert SupportAccessRequest.objects.get().state == State.CANCELLED


def test_expiry_job_closes_grants_past_their_end(staff, tenant, make_grant):
    from mamori.support.tasks import expire_due_across_tenants

    grant = make_grant(staff, hours=1)
    assert expire_due_across_tenants() == 0
    later = timezone.now() + timedelta(hours=1, seconds=1)
    with use_tenant(None):
        assert expire_due_across_tenants(now=later) == 1
        assert expire_due_across_tenants(now=later) == 0
    with use_tenant(tenant):
        grant.refresh_from_db()
        assert grant.state == State.EXPIRED
        assert not User.objects.get(pk=grant.support_user_id).is_active
        event = AuditEvent.objects.get(action="support.access_expired")
    assert event.actor_type == "system"


def test_the_same_support_user_is_reused_by_the_next_grant(staff, tenant, admin, make_grant):
    first = make_grant(staff, scope="read_write")
    with use_tenant(tenant):
        actions.revoke_access(actor=Actor.for_user(admin), tenant=tenant, grant_id=first.pk)
    second = make_grant(staff, scope="read_only")
    assert second.support_user_id == first.support_user_id
    with use_tenant(tenant):
        user = User.objects.get(pk=second.support_user_id)
    assert user.is_active and user.role == Role.VIEWER


def test_support_users_are_not_counted_as_the_tenants_users(make_grant, staff, tenant):
    """The provider console's usage counts show the tenant's seats, not the provider's support user."""
    from mamori.operations import queries as provider_queries

    with use_tenant(None):
        before = provider_queries.tenant_usage(tenant)
    make_grant(staff, scope="read_write")
    with use_tenant(None):
        after = provider_queries.tenant_usage(tenant)
    assert (after.users, after.active_users) == (before.users, before.active_users)
