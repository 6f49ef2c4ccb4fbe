"""Incident actions: validation, deadlines per tenant, audit in the provider and tenant logs,
notices with recorded deliveries, the deadline watch, and the status-page query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from mamori.access.errors import PermissionDenied
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.incidents import actions as acts
from mamori.incidents import policy as pol
from mamori.incidents.models import AffectedTenant, Delivery, Incident
from mamori.incidents.queries import status_page_incidents
from mamori.incidents.tasks import check_deadlines
from mamori.tenancy.context import use_tenant


def _events(tenant, action):
    with use_tenant(tenant):
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_incident_without_affected_tenants_is_refused(make_incident):
    with pytest.raises(ValidationError) as exc:
        make_incident([])
    assert "tenants" in exc.value.message_dict
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("title_ja", ""), ("title_en", "x" * 201), ("severity", "apocalyptic"), ("state", "gone"),
    ("components", ["console", "teleporter"]), ("tenant_ids", [999999]),
])
def test_bad_fields_give_field_errors(make_incident, tenant, field, value):
    with pytest.raises(ValidationError) as exc:
        make_incident([tenant], **{field: value})
    key = "tenants" if field == "tenant_ids" else field
    assert key in exc.value.message_dict


def test_detection_before_start_or_in_the_future_is_refused(make_incident, tenant):
    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        make_incident([tenant], started_at=now - timedelta(hours=1), detected_at=now - timedelta(hours=2))
    assert "detected_at" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        make_incident([tenant], started_at=now, detected_at=now + timedelta(hours=2))
    assert "detected_at" in exc.value.message_dict


def test_support_staff_cannot_record_incidents(support, tenant):
    now = timezone.now()
    with use_tenant(None), pytest.raises(PermissionDenied):
        acts.create_incident(staff=support, title_ja="a", title_en="a", severity="low", started_at=now,
                             detected_at=now, components=[], tenant_ids=[tenant.pk])


def test_each_tenant_gets_its_own_deadline_and_the_provider_log_has_it(make_incident, officer, tenant, other_tenant):
    with use_tenant(None):
        acts.set_notification_policy(staff=officer, tenant=other_tenant, preset=pol.WITHIN_24H)
    incident = make_incident([tenant, other_tenant])
    rows = {row.tenant_id: row for row in incident.affected.all()}
    expected = pol.first_notice_deadline(incident.detected_at, pol.default_policy())
    assert rows[tenant.pk].deadline == expected and rows[tenant.pk].policy == "business_6h"
    assert rows[other_tenant.pk].deadline == incident.detected_at + timedelta(hours=24)
    assert rows[other_tenant.pk].policy == "within_24h"
    created = ProviderEvent.objects.get(action="incident.created")
    assert created.actor_label == officer.email and sorted(created.after["tenants"]) == sorted([tenant.pk, other_tenant.pk])
    assert ProviderEvent.objects.filter(action="incident.policy_set", tenant_ref=other_tenant.pk).exists()


def test_all_tenants_covers_every_tenant(make_incident, tenant, other_tenant):
    incident = make_incident([], all_tenants=True)
    assert set(incident.affected.values_list("tenant_id", flat=True)) == {tenant.pk, other_tenant.pk}


def test_moving_the_detection_time_moves_pending_deadlines(make_incident, officer, tenant):
    incident = make_incident([tenant])
    earlier = incident.detected_at - timedelta(hours=30)
    with use_tenant(None):
        acts.update_incident(staff=officer, incident=incident, started_at=earlier, detected_at=earlier,
                             state="identified")
    row = incident.affected.get()
    assert row.deadline == pol.first_notice_deadline(earlier, pol.default_policy())
    event = ProviderEvent.objects.get(action="incident.updated")
    assert event.before["state"] == "investigating" and event.after["state"] == "identified"


def test_resolving_sets_resolved_at(make_incident, officer, tenant):
    incident = make_incident([tenant])
    with use_tenant(None):
        acts.update_incident(staff=officer, incident=incident, state="resolved")
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    with use_tenant(None):
        acts.update_incident(staff=officer, incident=incident, state="monitoring")
    incident.refresh_from_db()
    assert incident.resolved_at is None


def test_private_updates_stay_private_and_public_ones_reach_the_tenant_log(make_incident, officer, tenant,
                                                                          other_tenant, make_tenant):
    third = make_tenant("initech")
    incident = make_incident([tenant, other_tenant])
    with use_tenant(None):
        acts.add_incident_update(staff=officer, incident=incident, text_ja="内部調査中", text_en="internal", public=False)
        acts.add_incident_update(staff=officer, incident=incident, text_ja="復旧作業中です", text_en="We are restoring",
                                 public=True)
    for affected in (tenant, other_tenant):
        [event] = _events(affected, "incident.public_update")
        assert event.after["text_ja"] == "復旧作業中です" and event.actor_label == officer.email
        assert "internal" not in repr(event.after)
    assert _events(third, "incident.public_update") == []
    [page] = status_page_incidents()
    assert [u["text"] for u in page["updates"]] == ["復旧作業中です"] or [u["text"] for u in page["updates"]] == [
        "We are restoring"]
    assert page["components"] == ["api"] and page["state"] == "investigating" and page["id"] == incident.pk


def test_status_page_lists_only_incidents_with_public_updates_within_the_window(make_incident, officer, tenant):
    quiet = make_incident([tenant])
    with use_tenant(None):
        acts.add_incident_update(staff=officer, incident=quiet, text_ja="非公開", text_en="private", public=False)
    assert status_page_incidents() == []
    old = make_incident([tenant], detected_ago=timedelta(days=200))
    with use_tenant(None):
        acts.add_incident_update(staff=officer, incident=old, text_ja="公開", text_en="public", public=True)
        acts.update_incident(staff=officer, incident=old, state="resolved")
    assert [i["id"] for i in status_page_incidents()] == [old.pk]
    later = timezone.now() + timedelta(days=91)
    assert status_page_incidents(now=later) == []


def test_notify_records_dashboard_and_mail_deliveries(make_incident, officer, tenant, admin, other_tenant,
                                                      immediate_tasks, django_capture_on_commit_callbacks):
    tenant.notification_email = "it-desk@acme.example"
    tenant.save(update_fields=["notification_email"])
    incident = make_incident([tenant])
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        update = acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="障害が発生しています",
                                              text_en="An incident is under way")
    deliveries = list(Delivery.objects.filter(update=update).order_by("channel", "address"))
    assert [(d.channel, d.address) for d in deliveries] == [
        ("dashboard", ""), ("email", "admin@acme.example"), ("email", "it-desk@acme.example"),
        ("email", "owner@acme.example")]
    assert all(d.sent_at is not None and d.error == "" for d in deliveries)
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@acme.example", "it-desk@acme.example", "owner@acme.example"]
    assert all("障害が発生しています" in m.body for m in mail.outbox)  # the tenants' language is Japanese
    row = incident.affected.get()
    first_mail = min(d.sent_at for d in deliveries if d.channel == "email")
    assert row.notified_at == first_mail and row.status() == "on_time"
    assert ProviderEvent.objects.filter(action="incident.notice_delivered").count() == 3
    assert ProviderEvent.objects.filter(action="incident.notification_requested").count() == 1
    assert len(_events(tenant, "incident.public_update")) == 1


def test_mail_is_in_each_contacts_language(make_incident, officer, tenant, admin, immediate_tasks,
                                          django_capture_on_commit_callbacks):
    with use_tenant(tenant):
        admin.language = "en"
        admin.save(update_fields=["language"])
    incident = make_incident([tenant])
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="日本語の本文", text_en="English text")
    by_address = {m.to[0]: m for m in mail.outbox}
    assert "English text" in by_address["admin@acme.example"].body
    assert "Incident notice" in by_address["admin@acme.example"].subject
    assert "日本語の本文" in by_address["owner@acme.example"].body
    assert "English text" not in by_address["owner@acme.example"].body


def test_a_failed_mail_is_recorded_and_leaves_the_notice_pending(make_incident, officer, tenant, settings,
                                                                 immediate_tasks, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    incident = make_incident([tenant])
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="本文", text_en="text")
    [delivery] = Delivery.objects.filter(channel="email")
    assert delivery.sent_at is None and delivery.error
    assert incident.affected.get().notified_at is None
    assert ProviderEvent.objects.filter(action="incident.notice_failed").count() == 1


def test_a_tenant_without_mail_contacts_is_notified_on_the_dashboard(make_incident, officer, tenant):
    from mamori.accounts.models import User

    with use_tenant(tenant):
        User.objects.update(is_active=False)
    incident = make_incident([tenant])
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="本文", text_en="text", enqueue=False)
    assert list(Delivery.objects.values_list("channel", flat=True)) == ["dashboard"]
    assert incident.affected.get().notified_at is not None


def test_notify_needs_text(make_incident, officer, tenant):
    incident = make_incident([tenant])
    with use_tenant(None), pytest.raises(ValidationError) as exc:
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="  ", text_en="x" * 6000)
    assert set(exc.value.message_dict) == {"text_ja", "text_en"}
    assert not Delivery.objects.exists()


def test_deadline_watch_warns_then_flags_overdue_once(make_incident, officer, operator, tenant, settings,
                                                      django_capture_on_commit_callbacks, immediate_tasks):
    settings.MAMORI_INCIDENT_WARN_MINUTES = 60
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "custom:2h"
    incident = make_incident([tenant], detected_ago=timedelta(minutes=70))  # deadline in 50 minutes
    row = incident.affected.get()
    assert row.deadline - row.incident.detected_at == timedelta(hours=2)
    now = timezone.now()
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        assert check_deadlines(now) == {"warned": 1, "overdue": 0}
        assert check_deadlines(now + timedelta(minutes=5)) == {"warned": 0, "overdue": 0}
    [warning] = mail.outbox
    assert warning.to == [officer.email]  # security officers only, not the operator
    assert "INC-" in warning.subject and "acme" in warning.body
    later = row.deadline + timedelta(minutes=1)
    with use_tenant(None), django_capture_on_commit_callbacks(execute=True):
        assert check_deadlines(later) == {"warned": 0, "overdue": 1}
        assert check_deadlines(later + timedelta(minutes=5)) == {"warned": 0, "overdue": 0}
    assert len(mail.outbox) == 2
    assert ProviderEvent.objects.filter(action="incident.deadline_warning").count() == 1
    [flag] = ProviderEvent.objects.filter(action="incident.notification_overdue")
    assert flag.tenant_ref == tenant.pk and flag.after["tenant"] == "acme"
    row.refresh_from_db()
    assert row.status(later) == "overdue"


def test_a_late_notice_is_shown_as_late(make_incident, officer, tenant, settings):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "within_24h"
    incident = make_incident([tenant], detected_ago=timedelta(days=3))
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="遅延", text_en="late", enqueue=False)
    row = AffectedTenant.objects.get()
    assert row.notified_at is None and row.status() == "overdue"
    delivery = Delivery.objects.filter(channel="email").first()
    with use_tenant(None):
        acts.record_delivery(delivery=delivery, sent_at=timezone.now())
    row.refresh_from_db()
    assert row.status() == "late"


def test_periodic_job_is_registered():
    from mamori.core.schedule import registered_jobs
    from mamori.incidents.tasks import check_deadlines_task

    job = registered_jobs()["incidents.deadlines"]
    assert job.every == timedelta(minutes=5) and job.task is check_deadlines_task


def test_the_status_page_shows_only_public_updates(make_incident, officer, tenant):
    from django.test import Client

    incident = make_incident([tenant])
    with use_tenant(None):
        acts.add_incident_update(staff=officer, incident=incident, text_ja="社内向けメモ", text_en="internal memo",
                                 public=False)
        acts.add_incident_update(staff=officer, incident=incident, text_ja="復旧に向けて対応中です",
                                 text_en="We are working on a fix", public=True)
    page = Client().get("/status", HTTP_ACCEPT_LANGUAGE="ja")
    assert page.status_code == 200
    html = page.content.decode()
    assert "API の応答遅延" in html and "復旧に向けて対応中です" in html
    assert "社内向けメモ" not in html and "internal memo" not in html


def test_a_purged_tenant_stays_in_the_history_and_is_not_notified_again(make_incident, officer, tenant,
                                                                        other_tenant):
    from mamori.tenancy.models import Tenant

    incident = make_incident([], all_tenants=True)
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="第一報", text_en="first", enqueue=False)
    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.PURGED)
    with use_tenant(None):
        update = acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="第二報", text_en="second",
                                              enqueue=False)
    assert set(incident.affected.values_list("tenant_id", flat=True)) == {tenant.pk, other_tenant.pk}
    assert set(Delivery.objects.filter(update=update).values_list("affected__tenant_id", flat=True)) == {tenant.pk}
    with use_tenant(None):  # acme's mail was never sent (no worker here); the purged tenant is not watched
        assert check_deadlines(timezone.now() + timedelta(days=30))["overdue"] == 1
