"""Issue 6 item 4: terminating a contract, the grace period, reminders and cancelling (CLD.8.1.5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mamori.access.errors import PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle import termination as term
from mamori.lifecycle.models import Termination, TerminationPolicy
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.lifecycle.termination_helpers import deliver

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _storage(storage):
    """Files of this test in a directory of its own (tests/conftest.py)."""


@pytest.fixture
def mails(mailoutbox):
    class Box:
        def __iter__(self):
            deliver()
            return iter(list(mailoutbox))

        def __getitem__(self, index):
            deliver()
            return mailoutbox[index]

    return Box()


def _staff(role="operator"):
    from mamori.operations.actions import create_staff

    return create_staff(actor=Actor.system("test"), email=f"{role}@provider.example",
                        password="a long staff password 1", role=role)


def test_admin_terminates_with_typed_slug(tenant, admin, settings, mails, django_capture_on_commit_callbacks):
    settings.MAMORI_TERMINATION_GRACE_DAYS = 30
    with django_capture_on_commit_callbacks(execute=True):
        t = acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme", reason="moving on")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.TERMINATING
    assert t.grace_days == 30 and t.state == Termination.State.SCHEDULED
    assert abs((t.ends_at - t.requested_at) - timedelta(days=30)) < timedelta(seconds=1)
    assert "owner@acme.example" in t.contact_emails and "admin@acme.example" in t.contact_emails
    assert AuditEvent.objects.filter(action="tenant.termination_requested").count() == 1
    with use_tenant(None):
        assert ProviderEvent.objects.filter(action="tenant.termination_requested", tenant_ref=tenant.pk).exists()
    assert any("admin@acme.example" in m.to for m in mails)
    assert "acme" in mails[-1].body and "30" in mails[-1].body


@pytest.mark.parametrize("typed", ["", "ACME", "acme2", "globex"])
def test_wrong_confirmation_changes_nothing(tenant, admin, typed):
    with pytest.raises(ValidationError) as err:
        acts.request_termination(actor=Actor.for_user(admin), confirm_slug=typed)
    assert "confirm_slug" in err.value.message_dict
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    assert not Termination.objects.exists()


def test_non_admin_cannot_terminate(tenant, editor):
    with pytest.raises(PermissionDenied):
        acts.request_termination(actor=Actor.for_user(editor), confirm_slug="acme")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    assert AuditEvent.objects.filter(action="access.denied").exists()


def test_twice_is_refused(tenant, admin):
    acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    tenant.refresh_from_db()
    with pytest.raises(ValidationError):
        acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    assert Termination.objects.count() == 1


def test_provider_override_and_cancel(tenant, admin, other_tenant, django_capture_on_commit_callbacks):
    staff = _staff()
    with use_tenant(None):
        assert acts.set_grace_period(staff=staff, tenant=tenant, days=60) == 60
        t = acts.terminate_tenant(staff=staff, tenant=tenant, reason="contract ended")
    assert t.grace_days == 60 and t.requested_by == staff.email
    assert TerminationPolicy.objects.get(tenant=tenant).grace_days == 60
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        acts.cancel_termination(staff=staff, tenant=tenant, reason="customer renewed")
    tenant.refresh_from_db()
    other_tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE and other_tenant.status == Tenant.Status.ACTIVE
    t.refresh_from_db()
    assert t.state == Termination.State.CANCELLED and t.cancelled_by == staff.email
    with use_tenant(tenant):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"tenant.termination_requested", "tenant.termination_cancelled"} <= actions
    with use_tenant(None):
        provider = set(ProviderEvent.objects.filter(tenant_ref=tenant.pk).values_list("action", flat=True))
    assert {"tenant.termination_grace_set", "tenant.termination_requested", "tenant.termination_cancelled"} <= provider
    # Back to the default, then a new termination uses it.
    with use_tenant(None):
        assert acts.set_grace_period(staff=staff, tenant=tenant, days=None) == term.default_grace_days()
        assert acts.terminate_tenant(staff=staff, tenant=tenant).grace_days == term.default_grace_days()


def test_support_staff_may_not_terminate(tenant):
    staff = _staff("support")
    with use_tenant(None), pytest.raises(PermissionDenied):
        acts.terminate_tenant(staff=staff, tenant=tenant)
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE


@pytest.mark.parametrize("days", [-1, 366, "30", None, True])
def test_bad_grace_days(tenant, days):
    with use_tenant(None), pytest.raises(ValidationError) as err:
        acts.terminate_tenant(actor=Actor.system("test"), tenant=tenant, grace_days=days) if days is not None \
            else acts.set_grace_period(actor=Actor.system("test"), tenant=tenant, days=-5)
    assert "grace_days" in err.value.message_dict
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE


def test_cancel_without_termination(tenant):
    with use_tenant(None), pytest.raises(ValidationError):
        acts.cancel_termination(actor=Actor.system("test"), tenant=tenant)


def test_reminders_at_configured_days(tenant, admin, settings, mails, django_capture_on_commit_callbacks):
    settings.MAMORI_TERMINATION_REMINDER_DAYS = ["14", "7", "1", "bad"]
    settings.MAMORI_TERMINATION_GRACE_DAYS = 30
    t = acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    start = t.requested_at
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        assert term.send_reminders(start + timedelta(days=1)) == 0      # 29 days left
        assert term.send_reminders(start + timedelta(days=16, hours=1)) == 1  # 14 left
        assert term.send_reminders(start + timedelta(days=16, hours=2)) == 0  # already sent
        assert term.send_reminders(start + timedelta(days=29, hours=1)) == 1  # 7 was missed: only 1 is sent
        assert term.send_reminders(start + timedelta(days=29, hours=2)) == 0
    t.refresh_from_db()
    assert t.reminders_sent == [14, 7, 1]
    subjects = [m.subject for m in mails if "admin@acme.example" in m.to]
    assert len([s for s in subjects if "14" in s]) == 1 and len([s for s in subjects if " 1 " in s]) == 1
    with use_tenant(tenant):
        assert AuditEvent.objects.filter(action="tenant.termination_reminder_sent").count() == 2


def test_short_grace_period_skips_longer_reminders(tenant, admin, settings):
    settings.MAMORI_TERMINATION_GRACE_DAYS = 5
    t = acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    assert term.due_reminder(t, t.requested_at + timedelta(hours=1)) is None  # 14/7 > 5 days: never
    assert term.due_reminder(t, t.ends_at - timedelta(hours=12)) == 1


def test_cancelled_termination_gets_no_reminders_or_purge(tenant, admin):
    t = acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    with use_tenant(None):
        acts.cancel_termination(actor=Actor.system("test"), tenant=tenant)
        later = t.ends_at + timedelta(days=1)
        assert term.send_reminders(later - timedelta(days=2)) == 0
        assert not list(term.due_terminations(later))


def test_purge_refused_before_grace_ends(tenant, admin):
    t = acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    with use_tenant(None), pytest.raises(ValidationError):
        acts.begin_purge(actor=Actor.system("test"), termination=t)
    t.refresh_from_db()
    assert t.state == Termination.State.SCHEDULED
    assert not list(term.due_terminations(timezone.now()))
    assert [x.pk for x in term.due_terminations(t.ends_at + timedelta(seconds=1))] == [t.pk]


def test_job_is_scheduled_and_purges_due_terminations(tenant, admin, settings):
    """The worker's periodic job: registered with the scheduler; run_due sends reminders and purges."""
    from mamori.core import schedule

    job = schedule.registered_jobs()["lifecycle.termination"]
    assert job.every == timedelta(hours=1)
    settings.MAMORI_TERMINATION_GRACE_DAYS = 0
    t = acts.request_termination(actor=Actor.for_user(admin), confirm_slug="acme")
    with use_tenant(None):
        summary = term.run_due(t.ends_at + timedelta(seconds=1))
        assert summary["purged"] == [tenant.pk]
        tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.PURGED
        assert term.run_due()["purged"] == []  # nothing left to do
