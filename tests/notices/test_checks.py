"""Control checks of the notices app: 12.1.2 (lead time) and 12.6.1-notice (delivered)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.compliance.registry import get
from mamori.notices.models import Notice, NoticeDelivery

pytestmark = pytest.mark.django_db


def _run(key: str):
    return get(key).check()


def test_lead_time_passes_with_timely_and_emergency_notices(make_notice, settings):
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 7
    make_notice(publish=True)
    soon = timezone.now() + timedelta(hours=3)
    make_notice(publish=True, starts_at=soon, ends_at=soon + timedelta(hours=1), emergency=True,
                emergency_reason="Vendor security patch that cannot wait a week", components=["mail"])
    result = _run("12.1.2")
    assert result.status == "pass", result.summary
    assert result.evidence["lead_days"] == 7 and result.evidence["maintenance_published"] == 2
    assert result.evidence["emergencies"] == 1 and result.evidence["short_lead_non_emergency"] == 0
    assert get("12.1.2").section == "change_management"


def test_lead_time_fails_on_a_late_announcement(make_notice):
    notice = make_notice(publish=True)
    # As if it had gone out two days before the window (e.g. written straight into the database).
    Notice.objects.filter(pk=notice.pk).update(published_at=notice.starts_at - timedelta(days=2))
    result = _run("12.1.2")
    assert result.status == "fail" and result.evidence["short_lead_ids"] == [notice.pk]


def test_lead_time_fails_when_configured_below_one_day(settings, db):
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 0
    result = _run("12.1.2")
    assert result.status == "fail" and result.evidence["lead_days"] == 0


def test_vulnerability_notice_check_fails_on_undelivered_mail(make_notice, tenant):
    notice = make_notice(publish=True, kind="vulnerability", starts_at=None, ends_at=None, components=[])
    assert _run("12.6.1-notice").status == "pass"
    row = NoticeDelivery.objects.create(notice=notice, tenant=tenant, channel="mail", address="a@acme.example",
                                        error="SMTPRecipientsRefused: 550")
    result = _run("12.6.1-notice")
    assert result.status == "fail" and result.evidence["failed_notice_ids"] == [notice.pk]
    row.sent_at, row.error = timezone.now(), ""
    row.save()
    assert _run("12.6.1-notice").status == "pass"
