"""Provider operations and compliance journeys (issues 7 and 8) in Japanese and English.
(Maintenance notice → tenant banner: test_notices.py; status page probes: test_status_page.py;
support access: test_support_access.py.)

1. Incident: a security officer records an incident in the provider console and notifies the
   affected tenant; the tenant admin sees the notice on the dashboard in their language; the
   public status page and the provider's Schedules page speak the language too.
2. Compliance: the security officer opens the Control checks page; the public security
   whitepaper is served in the language.
"""

from __future__ import annotations

import pytest

from mamori.incidents.models import Delivery, Incident
from tests.e2e.journeys import (
    check_page,
    heading,
    make_staff,
    make_tenant,
    new_tab,
    shot_name,
    sign_in,
    staff_sign_in,
    tr,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_incident_notice_status_page_and_schedules(jpage, lang, live_server, screenshot):
    page = jpage
    tenant, _admin = make_tenant("incco", "障害テスト株式会社", admin_email="admin@incco.example", lang=lang)
    officer = make_staff("so@provider.example", role="security_officer")
    staff_sign_in(page, live_server, officer.email)
    heading(page, lang, "Tenants")

    page.goto(f"{live_server.url}/provider/incidents/")
    heading(page, lang, "Incidents")
    page.goto(f"{live_server.url}/provider/incidents/new/")
    heading(page, lang, "Record an incident")
    page.locator("#id_title_ja").fill("API の応答遅延")
    page.locator("#id_title_en").fill("Slow API responses")
    page.locator("#id_severity").select_option("high")
    page.locator("#id_started_at").fill("2026-01-05T10:00")
    page.locator("#id_detected_at").fill("2026-01-05T10:15")
    page.locator("input[name=components][value=api]").check()
    page.locator("#id_tenant_ids").select_option(str(tenant.pk))
    screenshot(shot_name("provider-incident-form", lang))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/provider/incidents/*/")
    check_page(page, lang)
    incident = Incident.objects.get()

    page.locator("#notify-link").click()
    heading(page, lang, "Notify affected tenants")
    page.locator("#id_text_ja").fill("現在、API の応答が遅くなっています。")
    page.locator("#id_text_en").fill("API responses are slow; we are investigating.")
    page.get_by_role("button", name=tr(lang, "Notify affected tenants")).click()
    page.wait_for_url(f"**/provider/incidents/{incident.pk}/")
    assert Delivery.objects.filter(channel="dashboard").count() == 1

    page.goto(f"{live_server.url}/provider/schedules/")
    heading(page, lang, "Schedules")
    assert page.locator("#job-auditdaily_digests").is_visible()
    screenshot(shot_name("provider-schedules", lang))

    admin = new_tab(page, live_server, lang)
    sign_in(admin, f"{live_server.url}/t/incco", "admin@incco.example")
    heading(admin, lang, "Dashboard")
    notice = admin.locator("#incident-notices")
    text = "現在、API の応答が遅くなっています。" if lang == "ja" else "API responses are slow; we are investigating."
    assert text in notice.inner_text() and incident.reference in notice.inner_text()
    from tests.e2e.conftest import save_screenshot

    save_screenshot(admin, shot_name("incidents-tenant-dashboard", lang))
    admin.context.close()

    page.goto(f"{live_server.url}/status?lang={lang}")
    heading(page, lang, "Service status")


def test_controls_page_and_whitepaper(jpage, lang, live_server, screenshot):
    page = jpage
    make_tenant("ctlco", "管理策株式会社", admin_email="admin@ctlco.example", lang=lang)
    officer = make_staff("officer@provider.example", role="security_officer")
    staff_sign_in(page, live_server, officer.email)
    page.get_by_role("link", name=tr(lang, "Control checks")).first.click()
    page.wait_for_url("**/provider/controls/")
    heading(page, lang, "Control checks")
    assert page.locator("#control-cld-9-5-1").is_visible()
    assert tr(lang, "Never checked") in page.locator("#control-cld-9-5-1").inner_text()
    assert page.get_by_role("button", name=tr(lang, "Run all checks now")).is_visible()
    screenshot(shot_name("provider-controls-page", lang))

    response = page.goto(f"{live_server.url}/security/whitepaper?lang={lang}")
    assert response.status == 200
    check_page(page, lang)
    assert page.locator("h1").inner_text() == ("セキュリティホワイトペーパー" if lang == "ja" else "Security whitepaper")
    assert page.locator("#s-segregation h3").inner_text().endswith("(CLD.9.5.1)")
    screenshot(shot_name("whitepaper-page", lang))
