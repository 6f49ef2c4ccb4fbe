"""Controls 16.1.1 (no overdue first notification) and 16.1.2 (report form and security.txt)."""

from __future__ import annotations

from datetime import timedelta

from mamori.compliance.registry import get, load_checks
from mamori.incidents import actions as acts
from mamori.tenancy.context import use_tenant


def _run(key):
    load_checks()
    control = get(key)
    assert control is not None, key
    return control.check()


def test_16_1_1_passes_with_nothing_overdue(db, make_incident, tenant, settings):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "within_24h"
    make_incident([tenant])
    result = _run("16.1.1")
    assert result.status == "pass", result.summary
    assert result.evidence["open_incidents"] == 1 and result.evidence["pending_deadlines"] == 1
    assert result.evidence["overdue_count"] == 0 and result.evidence["policy"] == "within_24h"
    assert result.evidence["rule"]


def test_16_1_1_fails_on_an_overdue_notice_and_passes_once_notified(db, make_incident, officer, tenant, settings):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "custom:1h"
    incident = make_incident([tenant], detected_ago=timedelta(hours=3))
    result = _run("16.1.1")
    assert result.status == "fail" and result.evidence["overdue"] == [f"{incident.reference}/acme"]
    from mamori.accounts.models import User

    with use_tenant(tenant):
        User.objects.update(is_active=False)  # no mail contact: the dashboard notice counts at once
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="通知", text_en="notice", enqueue=False)
    result = _run("16.1.1")
    assert result.status == "pass" and result.evidence["notified_late"] == 1


def test_16_1_2_reports_the_contact_and_expiry(db, settings):
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 5
    result = _run("16.1.2")
    assert result.status == "pass", result.summary
    assert "mailto:security@example.com" in result.evidence["contact"]
    assert result.evidence["expires"].endswith("Z") and result.evidence["report_form"] == "/security/report"
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 0
    assert _run("16.1.2").status == "fail"
