"""End to end over real SMTP: publishing a maintenance notice queues a task; the worker sends
one mail per tenant contact through Django's SMTP backend to an aiosmtpd server on loopback,
each in the contact's language; a recipient the server refuses is recorded as a failed delivery."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from mamori.access.roles import Role
from mamori.notices.models import NoticeDelivery
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.smtp_server import Inbox, loopback_smtp, signal_handlers_kept

pytestmark = pytest.mark.django_db(transaction=True)
REFUSED = "gone@acme.example"


@pytest.fixture
def smtp_server(settings):
    with loopback_smtp(settings, Inbox(refuse=(REFUSED,))) as inbox:
        yield inbox


@pytest.fixture
def keep_signal_handlers():
    with signal_handlers_kept():
        yield


def test_notice_mails_over_smtp_in_each_contacts_language(make_tenant, user_factory, make_notice, smtp_server,
                                                           keep_signal_handlers):
    tenant = make_tenant("acme", "Acme 株式会社")
    english = user_factory(tenant, "admin@acme.example", Role.TENANT_ADMIN)
    with use_tenant(tenant):
        english.language = "en"
        english.save(update_fields=["language"])
    Tenant.objects.filter(pk=tenant.pk).update(notification_email=REFUSED)

    notice = make_notice(publish=True)  # autocommit: the task is queued as the action commits
    assert smtp_server.messages == []
    call_command("worker", "--batch", "--no-startup-delay", verbosity=0)

    received = {rcpt[0]: message for rcpt, message in smtp_server.messages}
    assert set(received) == {"owner@acme.example", "admin@acme.example"}
    ja, en = received["owner@acme.example"], received["admin@acme.example"]
    assert "【メンテナンス】データベースの定期メンテナンス" in str(ja["Subject"])
    assert "データベースを更新します。" in ja.get_body(preferencelist=("plain",)).get_content()
    assert "[Maintenance] Scheduled database maintenance" in str(en["Subject"])
    assert "Impact: Degraded service" in en.get_body(preferencelist=("plain",)).get_content()

    rows = {row.address: row for row in NoticeDelivery.objects.filter(notice=notice, channel="mail")}
    assert rows["owner@acme.example"].sent_at and rows["admin@acme.example"].sent_at
    refused = rows[REFUSED]
    assert refused.sent_at is None and "550" in refused.error and refused.attempts == 1
