"""Support access in a real browser (issue 7, item 10): a support staff member requests
access, a tenant admin approves it, the staff member opens the tenant console (marked as a
support session) and the tenant's operation log shows the page views under the staff
member's name with "(support access)"; revoking ends the session at the next page."""

from __future__ import annotations

import pytest
from django.utils import timezone

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
STAFF_PASSWORD = "provider staff passphrase 9"
STAFF_EMAIL = "support@provider.example"


@pytest.fixture
def setup(settings):
    settings.MAMORI_PROVIDER_MFA = True  # the real staff sign-in: password, then a TOTP code
    from mamori.accounts.models import User
    from mamori.operations import mfa
    from mamori.operations.actions import create_staff
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _owner, _secret = create_tenant(actor=Actor.system("e2e"), slug="supco", name="サポート株式会社",
                                                admin_email="owner@supco.example")
        staff = create_staff(actor=Actor.system("e2e"), email=STAFF_EMAIL, password=STAFF_PASSWORD,
                             role="support", name="Sato Support")
        secret = mfa.new_secret()
        staff.totp_secret = mfa.seal_secret(staff.pk, secret)
        staff.mfa_enrolled_at = timezone.now()
        staff.save(update_fields=["totp_secret", "mfa_enrolled_at"])
    with use_tenant(tenant):
        admin = User(tenant=tenant, email="admin@supco.example", name="Admin", role=Role.TENANT_ADMIN, language="en")
        admin.set_password(PASSWORD)
        admin.save()
    return tenant, secret


def _staff_sign_in(page, live_server, secret):
    from mamori.operations import mfa

    page.set_default_timeout(60_000)  # the shared test machine can be slow
    page.goto(f"{live_server.url}/provider/login/")
    page.locator("#id_email").fill(STAFF_EMAIL)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/provider/login/verify/")
    page.locator("#id_code").fill(mfa.code_for(secret, mfa.current_step()))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/provider/")


def _admin_page(page, live_server):
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    admin = context.new_page()
    admin.set_default_timeout(60_000)
    base = f"{live_server.url}/t/supco"
    admin.goto(f"{base}/accounts/login/")
    admin.locator("#id_login").fill("admin@supco.example")
    admin.locator("#id_password").fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    admin.wait_for_url(f"{base}/")
    return admin


def _confirm_password_if_asked(admin):
    admin.wait_for_load_state()
    if "/accounts/reauthenticate/" in admin.url:
        admin.locator("#id_password").fill(PASSWORD)
        admin.get_by_role("button", name="Confirm").click()
        admin.wait_for_load_state()


def test_request_approval_support_session_and_audit_log(setup, page, live_server, screenshot):
    _tenant, secret = setup
    base = f"{live_server.url}/t/supco"

    # 1. The staff member asks for read-only access for 2 hours.
    _staff_sign_in(page, live_server, secret)
    page.get_by_role("link", name="Support access").click()
    page.locator("#id_tenant").select_option("supco")
    page.locator("#id_reason").fill("Ticket 4711: the CSV import stops at row 12")
    page.locator("#id_scope_0").check()
    page.locator("#id_hours").fill("2")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_load_state()
    assert page.get_by_text("Request sent.").is_visible()
    assert "Waiting for approval" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Open tenant console").count() == 0
    screenshot("support-access-provider-request")

    # Before approval the tenant console gives the staff member nothing.
    response = page.goto(f"{base}/support/enter/")
    assert response.status == 404

    # 2. The tenant admin approves it (shortened to 1 hour), confirming the password.
    admin = _admin_page(page, live_server)
    admin.goto(f"{base}/settings/security/")
    admin.get_by_role("link", name="Support access").click()
    assert "Ticket 4711" in admin.locator("main").inner_text()
    screenshot_admin = admin.screenshot  # keep the admin's view for the docs
    admin.locator("input[name=hours]").first.fill("1")
    admin.get_by_role("button", name="Approve").click()
    _confirm_password_if_asked(admin)
    assert admin.get_by_text("Support access approved.").is_visible()
    assert "Revoke now" in admin.locator("main").inner_text()
    from tests.e2e.conftest import SCREENSHOTS

    screenshot_admin(path=str(SCREENSHOTS / "support-access-tenant-approval.png"), full_page=True)

    # 3. The staff member opens the tenant console: a marked, read-only support session.
    page.goto(f"{live_server.url}/provider/support/")
    page.get_by_role("button", name="Open tenant console").click()
    page.wait_for_url(f"{base}/")
    banner = page.locator("#support-banner")
    assert STAFF_EMAIL in banner.inner_text() and "read only" in banner.inner_text()
    page.goto(f"{base}/records/?q=private-search")
    assert page.locator("#support-banner").is_visible()
    screenshot("support-access-session")

    # 4. The tenant's operation log shows the session and the pages under the staff member's name.
    admin.goto(f"{base}/audit/")
    log = admin.locator("main").inner_text()
    assert f"{STAFF_EMAIL} (support access)" in log
    assert "Page viewed under support access" in log and "Support session started" in log
    assert "private-search" not in log
    admin.screenshot(path=str(SCREENSHOTS / "support-access-audit-log.png"), full_page=True)

    # 5. Revoked: the staff member's next page ends the session.
    admin.goto(f"{base}/settings/security/support-access/")
    admin.get_by_role("button", name="Revoke now").click()
    admin.wait_for_load_state()
    assert admin.get_by_text("Support access revoked.").is_visible()
    page.goto(f"{base}/records/")
    assert "/t/supco/" not in page.url or "/accounts/login/" in page.url
    assert page.locator("#support-banner").count() == 0
    admin.context.close()
