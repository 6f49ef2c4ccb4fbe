"""In a real browser: a security officer records an incident and notifies the affected tenant;
the tenant's admin sees the notice on the dashboard; a visitor sends a security report.
Screenshots under var/screenshots (incidents-*.png)."""

from __future__ import annotations

import pytest

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.incidents.models import Delivery, Incident, SecurityReport
from mamori.tenancy.context import use_tenant
from tests.e2e.conftest import page, screenshot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
STAFF_PASSWORD = "provider staff passphrase 9"


@pytest.fixture
def world():
    from mamori.accounts.models import User
    from mamori.operations.actions import create_staff
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("e2e"), slug="incco", name="障害テスト株式会社",
                                                admin_email="owner@incco.example")
        bystander, _a, _s = create_tenant(actor=Actor.system("e2e"), slug="calm", name="Calm Co",
                                          admin_email="owner@calm.example")
        create_staff(actor=Actor.system("e2e"), email="so@provider.example", password=STAFF_PASSWORD,
                     role="security_officer")
    for t, email in ((tenant, "admin@incco.example"), (bystander, "admin@calm.example")):
        with use_tenant(t):
            user = User(tenant=t, email=email, name="Admin", role=Role.TENANT_ADMIN, language="en")
            user.set_password(PASSWORD)
            user.save()
    return tenant


def _tenant_sign_in(tab, base, email):
    tab.goto(f"{base}/accounts/login/")
    tab.locator("#id_login").fill(email)
    tab.locator("#id_password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{base}/")


def test_incident_notice_reaches_the_tenant_dashboard(world, page, live_server, screenshot):  # noqa: F811
    base = live_server.url
    page.goto(f"{base}/provider/login/")
    page.locator("input[name=email]").fill("so@provider.example")
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}/provider/")

    page.goto(f"{base}/provider/incidents/new/")
    page.locator("#id_title_ja").fill("API の応答遅延")
    page.locator("#id_title_en").fill("Slow API responses")
    page.locator("#id_severity").select_option("high")
    page.locator("#id_started_at").fill("2026-01-05T10:00")
    page.locator("#id_detected_at").fill("2026-01-05T10:15")
    page.locator("input[name=components][value=api]").check()
    page.locator("#id_tenant_ids").select_option(str(world.pk))
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/provider/incidents/*/")
    incident = Incident.objects.get()
    assert incident.affected.get().tenant_id == world.pk
    screenshot("incidents-provider-detail")

    page.locator("#notify-link").click()
    page.locator("#id_text_ja").fill("現在、API の応答が遅くなっています。")
    page.locator("#id_text_en").fill("API responses are slow; we are investigating.")
    page.get_by_role("button", name="Notify affected tenants").click()
    page.wait_for_url(f"**/provider/incidents/{incident.pk}/")
    assert Delivery.objects.filter(channel="dashboard").count() == 1
    page.goto(f"{base}/provider/incidents/deadlines/")
    assert page.locator("tr.deadline-late, tr.deadline-on_time, tr.deadline-overdue, tr.deadline-pending").count() == 1
    screenshot("incidents-provider-deadlines")

    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    _tenant_sign_in(page, f"{base}/t/incco", "admin@incco.example")
    banner = page.locator("#incident-notices")
    assert banner.is_visible()
    assert "API responses are slow" in banner.inner_text() and incident.reference in banner.inner_text()
    screenshot("incidents-tenant-dashboard")

    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    _tenant_sign_in(page, f"{base}/t/calm", "admin@calm.example")
    assert page.locator("#incident-notices").count() == 0


def test_visitor_sends_a_security_report(world, page, live_server, screenshot, settings):  # noqa: F811
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 5
    page.goto(f"{live_server.url}/security/report")
    assert not page.locator("#id_website").is_visible()  # the honeypot is hidden from people
    page.locator("#id_subject").fill("Reflected XSS")
    page.locator("#id_body").fill("<script>alert(1)</script> on /search")
    page.locator("#id_email").fill("finder@researcher.example")
    screenshot("incidents-report-form")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_url("**/security/report/sent")
    reference = page.locator("#report-reference").inner_text()
    assert SecurityReport.objects.get().reference == reference
    screenshot("incidents-report-sent")
