"""Provider console pages of incidents and security reports: roles, forms, no 500s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.audit.models import ProviderEvent
from mamori.incidents.models import Delivery, Incident, NotificationPolicy, SecurityReport

LIST_PAGES = ["/provider/incidents/", "/provider/incidents/deadlines/", "/provider/incidents/policies/"]


def _jst_local(moment) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M")


def _incident_form(tenants, **extra):
    now = timezone.now()
    data = {"title_ja": "ログイン障害", "title_en": "Sign-in failures", "severity": "critical",
            "state": "investigating", "started_at": _jst_local(now - timedelta(minutes=30)),
            "detected_at": _jst_local(now - timedelta(minutes=20)), "components": ["console", "api"],
            "tenant_ids": [t.pk for t in tenants]}
    data.update(extra)
    return data


@pytest.mark.parametrize("path", [*LIST_PAGES, "/provider/incidents/new/", "/provider/security-reports/"])
def test_anonymous_is_sent_to_sign_in(db, path):
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/provider/login/")


@pytest.mark.parametrize("role", ["operator", "security_officer", "support"])
def test_every_role_reads_incidents(role, make_staff, staff_client, make_incident, tenant):
    incident = make_incident([tenant])
    client = staff_client(make_staff(role))
    for path in [*LIST_PAGES, f"/provider/incidents/{incident.pk}/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"<script>" not in response.content and b' style="' not in response.content
    detail = client.get(f"/provider/incidents/{incident.pk}/").content.decode()
    assert ("notify-link" in detail) == (role != "support")


@pytest.mark.parametrize("path", ["/provider/incidents/new/", "/provider/incidents/{pk}/edit/",
                                  "/provider/incidents/{pk}/notify/"])
def test_support_cannot_manage_incidents(path, support, staff_client, make_incident, tenant):
    incident = make_incident([tenant])
    client = staff_client(support)
    assert client.get(path.format(pk=incident.pk)).status_code == 403
    assert client.post(path.format(pk=incident.pk), _incident_form([tenant])).status_code == 403
    assert client.post(f"/provider/incidents/{incident.pk}/timeline/",
                       {"text_ja": "a", "text_en": "b"}).status_code == 403
    assert client.post("/provider/incidents/policies/", {"tenant": tenant.pk, "preset": "within_24h"}).status_code == 403
    assert Incident.objects.count() == 1 and not NotificationPolicy.objects.exists()


@pytest.mark.parametrize("role", ["operator", "support"])
def test_only_security_officers_see_reports(role, make_staff, staff_client):
    report = SecurityReport.objects.create(reference="SR-TEST-1", subject="s", body="secret body")
    client = staff_client(make_staff(role))
    assert client.get("/provider/security-reports/").status_code == 403
    assert client.get(f"/provider/security-reports/{report.pk}/").status_code == 403
    assert b"security-reports" not in client.get("/provider/incidents/").content  # not in the navigation


@pytest.mark.parametrize("role", ["operator", "security_officer"])
def test_create_edit_and_notify_through_the_console(role, make_staff, staff_client, tenant, admin,
                                                    django_capture_on_commit_callbacks):
    client = staff_client(make_staff(role))
    assert client.get("/provider/incidents/new/").status_code == 200
    response = client.post("/provider/incidents/new/", _incident_form([tenant]))
    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get()
    assert incident.components == ["console", "api"] and incident.severity == "critical"
    assert response["Location"] == f"/provider/incidents/{incident.pk}/"
    assert incident.affected.get().tenant_id == tenant.pk
    edit = client.post(f"/provider/incidents/{incident.pk}/edit/",
                       _incident_form([tenant], state="identified", title_en="Sign-in failures (identified)"))
    assert edit.status_code == 302
    incident.refresh_from_db()
    assert incident.state == "identified"
    entry = client.post(f"/provider/incidents/{incident.pk}/timeline/",
                        {"text_ja": "原因を特定しました", "text_en": "Cause identified"})
    assert entry.status_code == 302 and incident.updates.get().public is False
    assert client.get(f"/provider/incidents/{incident.pk}/notify/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = client.post(f"/provider/incidents/{incident.pk}/notify/",
                           {"text_ja": "ただいま障害が発生しています", "text_en": "We are investigating"})
    assert sent.status_code == 302
    # the delivery task is enqueued after commit
    assert [c for c in callbacks if "notify_affected_tenants" in c.__qualname__]
    assert Delivery.objects.filter(channel="email").count() == 2 and Delivery.objects.filter(channel="dashboard").count() == 1
    page = client.get(f"/provider/incidents/{incident.pk}/").content.decode()
    assert "admin@acme.example" in page and "ただいま障害が発生しています" in page
    actions = list(ProviderEvent.objects.filter(action__startswith="incident.").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["incident.created", "incident.updated", "incident.update_added", "incident.update_added",
                       "incident.notification_requested"]


def test_no_affected_tenants_is_a_field_error_not_a_500(officer, staff_client, tenant):
    client = staff_client(officer)
    response = client.post("/provider/incidents/new/", _incident_form([]))
    assert response.status_code == 422
    assert "Choose the affected tenants" in response.content.decode() or "影響を受けるテナント" in response.content.decode()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("bad", [
    {"severity": "x"}, {"detected_at": "not a date"}, {"tenant_ids": ["abc"]}, {"components": ["nope"]},
    {"title_en": "<script>alert(1)</script>" * 20}, {"started_at": "2999-01-01T00:00"},
])
def test_bad_incident_input_is_422(bad, officer, staff_client, tenant):
    response = staff_client(officer).post("/provider/incidents/new/", _incident_form([tenant], **bad))
    assert response.status_code == 422
    assert b"<script>alert(1)" not in response.content
    assert not Incident.objects.exists()


def test_unknown_ids_are_404(officer, staff_client):
    client = staff_client(officer)
    for path in ["/provider/incidents/999/", "/provider/incidents/999/edit/", "/provider/incidents/999/notify/",
                 "/provider/security-reports/999/", "/provider/incidents/99999999999999999999/"]:
        assert client.get(path).status_code == 404, path


def test_deadlines_board_shows_status_per_tenant(officer, staff_client, make_incident, tenant, other_tenant, settings):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "custom:1h"
    make_incident([tenant], detected_ago=timedelta(hours=2))
    make_incident([other_tenant], detected_ago=timedelta(minutes=5))
    page = staff_client(officer).get("/provider/incidents/deadlines/").content.decode()
    assert page.count("deadline-overdue") == 1 and page.count("deadline-pending") == 1
    assert "custom:1h" in page


def test_policy_page_sets_and_clears_a_tenant_policy(officer, staff_client, tenant):
    client = staff_client(officer)
    bad = client.post("/provider/incidents/policies/", {"tenant": tenant.pk, "preset": "custom", "hours": ""})
    assert bad.status_code == 422 and not NotificationPolicy.objects.exists()
    ok = client.post("/provider/incidents/policies/", {"tenant": tenant.pk, "preset": "custom", "hours": "4",
                                                       "business_hours": "on"})
    assert ok.status_code == 302
    row = NotificationPolicy.objects.get(tenant=tenant)
    assert (row.preset, row.hours, row.business_hours) == ("custom", 4, True)
    assert "custom:4h:business" in client.get("/provider/incidents/policies/").content.decode()
    assert client.post("/provider/incidents/policies/", {"tenant": tenant.pk, "preset": ""}).status_code == 302
    assert not NotificationPolicy.objects.exists()
    assert ProviderEvent.objects.filter(action="incident.policy_set").count() == 2


def test_officer_triages_a_report_and_notes_stay_out_of_the_log(officer, operator, staff_client):
    report = SecurityReport.objects.create(reference="SR-TEST-2", subject="XSS", body="<b>payload</b> token=abc")
    client = staff_client(officer)
    listing = client.get("/provider/security-reports/").content.decode()
    assert "SR-TEST-2" in listing
    detail = client.get(f"/provider/security-reports/{report.pk}/").content.decode()
    assert "&lt;b&gt;payload&lt;/b&gt;" in detail and "<b>payload</b>" not in detail
    response = client.post(f"/provider/security-reports/{report.pk}/",
                           {"state": "triaged", "assignee_id": operator.pk, "notes": "reproduced with key sk-123"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.assignee_id, report.notes) == ("triaged", operator.pk, "reproduced with key sk-123")
    event = ProviderEvent.objects.get(action="security_report.updated")
    assert event.after == {"state": "triaged", "assignee": operator.email, "notes_changed": True}
    assert "sk-123" not in repr(event.before) + repr(event.after)
    assert client.post(f"/provider/security-reports/{report.pk}/", {"state": "lost"}).status_code == 422
    assert client.get("/provider/security-reports/?state=triaged").status_code == 200
