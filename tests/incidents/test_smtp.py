"""Over real SMTP: incident notices and the report acknowledgement leave through Django's SMTP
backend, run by `mamori worker`, to an aiosmtpd server on loopback; every delivery is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.incidents import actions as acts
from mamori.incidents.models import Delivery, SecurityReport
from mamori.tenancy.context import use_tenant
from tests.accounts.test_invitation_smtp import keep_signal_handlers, smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _run_worker():
    call_command("worker", "--batch", "--no-startup-delay", verbosity=0)


def test_incident_notice_over_smtp(make_tenant, user_factory, smtp_server, keep_signal_handlers):  # noqa: F811
    from mamori.operations.actions import create_staff

    tenant = make_tenant("acme", "Acme 株式会社")
    english = user_factory(tenant, "en-admin@acme.example", Role.TENANT_ADMIN)
    with use_tenant(tenant):
        english.language = "en"
        english.save(update_fields=["language"])
    with use_tenant(None):
        officer = create_staff(actor=Actor.system("t"), email="so@provider.example", password="a long pass 12345",
                               role="security_officer")
        now = timezone.now()
        incident = acts.create_incident(staff=officer, title_ja="メール配信の遅延", title_en="Mail delays",
                                        severity="medium", started_at=now - timedelta(minutes=20),
                                        detected_at=now - timedelta(minutes=10), components=["mail"],
                                        tenant_ids=[tenant.pk])
        update = acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="配信が遅れています",
                                              text_en="Delivery is delayed")
    assert smtp_server.messages == []  # queued after commit, sent by the worker
    _run_worker()
    received = {tuple(rcpt): message for rcpt, message in smtp_server.messages}
    assert set(received) == {("en-admin@acme.example",), ("owner@acme.example",)}
    english_body = received[("en-admin@acme.example",)].get_body(preferencelist=("plain",)).get_content()
    japanese = received[("owner@acme.example",)]
    assert "Delivery is delayed" in english_body and "Mail delays" in english_body
    assert "配信が遅れています" in japanese.get_body(preferencelist=("plain",)).get_content()
    assert incident.reference in str(japanese["Subject"])
    deliveries = Delivery.objects.filter(update=update, channel="email")
    assert deliveries.count() == 2 and all(d.sent_at and not d.error for d in deliveries)
    row = incident.affected.get()
    assert row.notified_at == min(d.sent_at for d in deliveries) and row.status() == "on_time"


def test_report_acknowledgement_over_smtp(db, settings, smtp_server, keep_signal_handlers):  # noqa: F811
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 5
    response = Client().post("/security/report", {"subject": "Open redirect", "body": "https://x/?next=//evil",
                                                  "email": "finder@researcher.example"}, REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 302
    _run_worker()
    [(rcpt, message)] = smtp_server.messages
    report = SecurityReport.objects.get()
    assert rcpt == ["finder@researcher.example"]
    assert report.reference in str(message["Subject"])
    assert "evil" not in message.get_body(preferencelist=("plain",)).get_content()
