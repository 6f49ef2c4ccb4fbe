"""Publishing a notice mails every contact of every affected tenant in the contact's own
language, after commit, through the worker's task; each mail and the console banner are
recorded as deliveries; reminders, updates and cancellations follow the same path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mamori.access.roles import Role
from mamori.audit.models import ProviderEvent
from mamori.notices import actions
from mamori.notices.models import NoticeDelivery
from mamori.notices.tasks import send_due_reminders
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.notices.conftest import maintenance

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(tenant, admin, other_tenant, user_factory):
    """acme: owner (ja, the tenant's language), admin (en) and a notification address; globex: its owner."""
    admin.language = "en"
    admin.save(update_fields=["language"])
    Tenant.objects.filter(pk=tenant.pk).update(notification_email="it-desk@acme.example")
    user_factory(tenant, "viewer@acme.example", Role.VIEWER)  # not a contact
    return {"owner@acme.example": "ja", "admin@acme.example": "en", "it-desk@acme.example": "ja",
            "owner@globex.example": "ja"}


def _publish(make_notice, capture, **overrides):
    with capture(execute=True):
        return make_notice(publish=True, **overrides)


def _by_address():
    return {message.to[0]: message for message in mail.outbox}


def test_publish_mails_each_contact_in_their_language(contacts, make_notice, django_capture_on_commit_callbacks,
                                                      run_tasks, tenant, other_tenant):
    notice = _publish(make_notice, django_capture_on_commit_callbacks)
    assert mail.outbox == []  # queued for the worker, not sent inside the action
    run_tasks()
    sent = _by_address()
    assert set(sent) == set(contacts)
    for address, language in contacts.items():
        message = sent[address]
        if language == "ja":
            assert "データベースの定期メンテナンス" in message.subject and "メンテナンス" in message.subject
            assert "データベースを更新します。" in message.body and "影響" in message.body
        else:
            assert "Scheduled database maintenance" in message.subject and "[Maintenance]" in message.subject
            assert "We upgrade the database." in message.body and "Impact: Degraded service" in message.body
            assert "(Asia/Tokyo)" in message.body  # the window in the tenant's time zone
            start = timezone.localtime(notice.starts_at, timezone=__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
            assert start.strftime("%Y-%m-%d %H:%M") in message.body
        assert f"/t/{'globex' if 'globex' in address else 'acme'}/notices/" in message.body

    rows = NoticeDelivery.objects.filter(notice=notice)
    mails = rows.filter(channel="mail")
    assert sorted(mails.values_list("address", flat=True)) == sorted(contacts)
    assert all(row.sent_at and not row.error and row.attempts == 1 for row in mails)
    assert {(r.address, r.language) for r in mails} == set(contacts.items())
    assert sorted(rows.filter(channel="dashboard").values_list("tenant__slug", flat=True)) == ["acme", "globex"]
    delivered = ProviderEvent.objects.filter(action="notice.delivered").get()
    assert delivered.after["sent"] == 4 and delivered.after["failed"] == 0 and delivered.after["tenants"] == 2
    published = ProviderEvent.objects.get(action="notice.published")
    assert published.actor_label == "ops@provider.example" and published.after["tenants_notified"] == 2

    run_tasks()  # nothing queued twice
    with use_tenant(None):
        from mamori.notices.delivery import deliver

        counts = deliver(notice.pk, "announcement", notice.revision)  # a retried task sends nothing again
    assert counts["sent"] == 0 and counts["skipped"] == 4 and len(mail.outbox) == 4


def test_chosen_audience_reaches_only_the_chosen_tenants(contacts, make_notice, django_capture_on_commit_callbacks,
                                                         run_tasks, other_tenant):
    notice = _publish(make_notice, django_capture_on_commit_callbacks, audience="chosen", tenant_ids=[other_tenant.pk])
    run_tasks()
    assert set(_by_address()) == {"owner@globex.example"}
    assert list(NoticeDelivery.objects.filter(notice=notice).order_by().values_list("tenant__slug", flat=True).distinct()) == ["globex"]


def test_closed_tenants_are_not_mailed(contacts, make_notice, django_capture_on_commit_callbacks, run_tasks, other_tenant):
    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.PURGED)
    _publish(make_notice, django_capture_on_commit_callbacks)
    run_tasks()
    assert "owner@globex.example" not in _by_address()


def test_a_failed_mail_is_recorded_and_sent_on_the_next_run(contacts, make_notice, django_capture_on_commit_callbacks,
                                                             run_tasks, settings):
    settings.EMAIL_BACKEND = "tests.notices.test_delivery.FailingBackend"
    notice = _publish(make_notice, django_capture_on_commit_callbacks)
    run_tasks()
    failed = NoticeDelivery.objects.filter(notice=notice, channel="mail")
    assert failed.count() == 4 and all(r.sent_at is None and "refused" in r.error for r in failed)
    assert ProviderEvent.objects.get(action="notice.delivered").after["failed"] == 4
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with use_tenant(None):
        from mamori.notices.delivery import deliver

        deliver(notice.pk, "announcement", notice.revision)
    rows = NoticeDelivery.objects.filter(notice=notice, channel="mail")
    assert all(r.sent_at and r.error == "" and r.attempts == 2 for r in rows) and len(mail.outbox) == 4


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("connection refused by the test")


def test_reminder_24_hours_before_start_once(contacts, make_notice, django_capture_on_commit_callbacks, run_tasks):
    notice = _publish(make_notice, django_capture_on_commit_callbacks)
    run_tasks()
    mail.outbox.clear()
    with use_tenant(None):
        assert send_due_reminders(now=notice.starts_at - timedelta(hours=25)) == 0  # too early
        with django_capture_on_commit_callbacks(execute=True):
            assert send_due_reminders(now=notice.starts_at - timedelta(hours=23)) == 1
        assert send_due_reminders(now=notice.starts_at - timedelta(hours=22)) == 0  # once
    run_tasks()
    sent = _by_address()
    assert set(sent) == set(contacts)
    assert "24" in sent["admin@acme.example"].subject and "Reminder" in sent["admin@acme.example"].subject
    assert NoticeDelivery.objects.filter(notice=notice, purpose="reminder", sent_at__isnull=False).count() == 4
    assert ProviderEvent.objects.filter(action="notice.reminder_sent").count() == 1


def test_no_reminder_for_an_emergency_announced_within_a_day(contacts, make_notice, run_tasks):
    start = timezone.now() + timedelta(hours=5)
    notice = make_notice(publish=True, starts_at=start, ends_at=start + timedelta(hours=1), emergency=True,
                         emergency_reason="Urgent patch of the storage layer (vendor advisory)")
    with use_tenant(None):
        assert send_due_reminders(now=timezone.now()) == 0
    assert not NoticeDelivery.objects.filter(notice=notice, purpose="reminder").exists()


def test_material_update_and_cancellation_are_mailed(contacts, make_notice, operator,
                                                     django_capture_on_commit_callbacks, run_tasks):
    notice = _publish(make_notice, django_capture_on_commit_callbacks)
    run_tasks()
    mail.outbox.clear()
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        actions.update_notice(staff=operator, notice_id=notice.pk, data=maintenance(
            starts_at=notice.starts_at, ends_at=notice.ends_at, body_en="More detail.", body_ja="詳細です。"))
    run_tasks()
    assert mail.outbox == []  # the text alone: no new mail
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        actions.update_notice(staff=operator, notice_id=notice.pk, data=maintenance(
            starts_at=notice.starts_at, ends_at=notice.ends_at + timedelta(hours=1)))
    run_tasks()
    assert len(mail.outbox) == 4 and "Updated" in _by_address()["admin@acme.example"].subject
    history = ProviderEvent.objects.filter(action="notice.updated").order_by("id")
    assert list(history[0].after) == ["body_ja", "body_en", "revision"] or set(history[0].after) >= {"body_en"}
    assert "ends_at" in history[1].after and "ends_at" in history[1].before
    mail.outbox.clear()
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        actions.cancel_notice(staff=operator, notice_id=notice.pk, reason="Vendor postponed the release")
    run_tasks()
    assert len(mail.outbox) == 4 and "中止" in _by_address()["owner@acme.example"].subject


def test_cancelling_before_the_mail_went_out_tells_nobody(contacts, make_notice, operator,
                                                           django_capture_on_commit_callbacks, run_tasks):
    draft = make_notice()
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        actions.cancel_notice(staff=operator, notice_id=draft.pk)
    run_tasks()
    assert mail.outbox == []


def test_release_notes_are_not_mailed(contacts, make_notice, django_capture_on_commit_callbacks, run_tasks):
    notice = _publish(make_notice, django_capture_on_commit_callbacks, kind="release", components=[])
    run_tasks()
    assert mail.outbox == [] and not NoticeDelivery.objects.filter(notice=notice).exists()
