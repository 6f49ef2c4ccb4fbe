"""Maintenance notices in a real browser (issue 7, item 3), in Japanese and in English: a provider operator announces a
maintenance window in the provider console; a tenant admin then sees the banner on every
console page, finds the notice on the notices page, and hides the banner for themself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.notices.models import Notice
from mamori.tenancy.context import use_tenant
from tests.e2e.conftest import save_screenshot
from tests.e2e.journeys import check_page, heading, new_tab, shot_name, tr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
STAFF_PASSWORD = "provider staff passphrase 9"


@pytest.fixture
def setup(settings):
    settings.MAMORI_PROVIDER_MFA = False  # the staff TOTP step has its own tests (tests/operations)
    from mamori.accounts.models import User
    from mamori.operations.actions import create_staff
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        staff = create_staff(actor=Actor.system("e2e"), email="ops@provider.example", password=STAFF_PASSWORD)
        tenant, _admin, _secret = create_tenant(actor=Actor.system("e2e"), slug="notico", name="お知らせ株式会社",
                                                admin_email="owner@notico.example")
        other, _admin2, _secret2 = create_tenant(actor=Actor.system("e2e"), slug="otherco", name="Other Co",
                                                 admin_email="owner@otherco.example")
    with use_tenant(tenant):
        admin = User(tenant=tenant, email="admin@notico.example", name="Admin", role=Role.TENANT_ADMIN, language="en")
        admin.set_password(PASSWORD)
        admin.save()
    return staff, tenant, other


def test_staff_announces_maintenance_and_the_tenant_admin_sees_the_banner(setup, jpage, lang, live_server, screenshot):
    (staff, tenant, _other), page = setup, jpage
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)

    # The operator signs in to the provider console and drafts the notice.
    page.goto(f"{live_server.url}/provider/login/")
    page.locator("#id_email").fill(staff.email)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name=tr(lang, "Sign in")).click()
    page.wait_for_url(f"{live_server.url}/provider/")
    page.get_by_role("link", name=tr(lang, "Notices")).first.click()
    page.get_by_role("link", name=tr(lang, "New notice")).click()
    heading(page, lang, "New notice")
    start = timezone.localtime(timezone.now() + timedelta(days=10), timezone=__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    start = start.replace(hour=2, minute=0)
    page.locator("#id_kind").select_option("maintenance")
    page.locator("#id_title_ja").fill("データベースの定期メンテナンス")
    page.locator("#id_title_en").fill("Scheduled database maintenance")
    page.locator("#id_body_ja").fill("データベースのバージョンを更新します。作業中は閲覧のみ可能です。")
    page.locator("#id_body_en").fill("We upgrade the database. The console is read-only during the window.")
    page.locator("#id_starts_at").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_ends_at").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_impact").select_option("degraded")
    page.get_by_label(tr(lang, "Database")).check()
    page.get_by_label(tr(lang, "Web console")).check()
    page.get_by_role("button", name=tr(lang, "Save draft")).click()
    page.wait_for_load_state()
    check_page(page, lang)
    assert page.get_by_text(tr(lang, "Draft saved. Check it, then publish it to send it to the tenants.")).is_visible()
    screenshot(shot_name("notices-provider-draft", lang))
    page.get_by_role("button", name=tr(lang, "Publish")).click()
    page.wait_for_load_state()
    assert page.get_by_text(tr(lang, "Published: the notice is shown in the tenants' consoles and the mails are "
                                     "on their way.")).is_visible()
    notice = Notice.objects.get()
    assert notice.state == "published" and notice.components == ["console", "database"]
    screenshot(shot_name("notices-provider-published", lang))

    # The tenant admin signs in: the banner is on the dashboard and on every other page.
    tenant_page = new_tab(page, live_server, lang)
    context = tenant_page.context
    tenant_page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    base = f"{live_server.url}/t/{tenant.slug}"
    tenant_page.goto(f"{base}/accounts/login/")
    tenant_page.locator("#id_login").fill("admin@notico.example")
    tenant_page.locator("#id_password").fill(PASSWORD)
    tenant_page.get_by_role("button", name=tr(lang, "Sign in")).click()
    tenant_page.wait_for_url(f"{base}/")
    heading(tenant_page, lang, "Dashboard")
    title = "データベースの定期メンテナンス" if lang == "ja" else "Scheduled database maintenance"
    banner = tenant_page.locator(f"#notice-banner-{notice.pk}")
    assert banner.is_visible() and title in banner.inner_text()
    assert "02:00" in banner.inner_text()  # the window in the tenant's time zone (Asia/Tokyo)
    save_screenshot(tenant_page, shot_name("notices-tenant-banner", lang))
    tenant_page.goto(f"{base}/records/")
    assert tenant_page.locator(f"#notice-banner-{notice.pk}").is_visible()
    banner = tenant_page.locator(f"#notice-banner-{notice.pk}")
    banner.get_by_role("link", name=title).click()
    tenant_page.wait_for_url(f"{base}/notices/*")
    check_page(tenant_page, lang)
    assert tenant_page.locator(f"#notice-{notice.pk}").is_visible()
    save_screenshot(tenant_page, shot_name("notices-tenant-list", lang))

    # Hiding it: gone from every page for this admin, still on the notices page.
    tenant_page.goto(f"{base}/records/")
    tenant_page.locator(f"#notice-banner-{notice.pk}").get_by_role("button").click()
    tenant_page.wait_for_url(f"{base}/records/")
    assert tenant_page.locator("#notice-banner").count() == 0
    tenant_page.goto(f"{base}/")
    assert tenant_page.locator("#notice-banner").count() == 0
    # The Organisation page: where notices go, where the data lives.
    tenant_page.goto(f"{base}/settings/organisation/")
    check_page(tenant_page, lang)
    assert tenant_page.get_by_role("heading", name=tr(lang, "Data location and sub-processors")).is_visible()
    assert "admin@notico.example" in tenant_page.locator("#notice-contacts").inner_text()
    save_screenshot(tenant_page, shot_name("notices-organisation", lang))
    context.close()
    assert violations == []
