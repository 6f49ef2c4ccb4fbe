"""Provider console in Chromium: first sign-in with TOTP enrolment (QR code rendered under the
CSP), the tenants page with usage, the Schedules page and "run now"; screenshots."""

from __future__ import annotations

import pyotp
import pytest

from mamori.audit.events import Actor
from mamori.audit.models import ProviderEvent
from mamori.tenancy.context import use_tenant
from tests.e2e.conftest import page, screenshot  # noqa: F401 (fixtures)
from tests.operations.conftest import STAFF_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_first_sign_in_enrols_then_schedules_run_now(page, screenshot, live_server, settings):  # noqa: F811
    settings.MAMORI_PROVIDER_MFA = True
    from mamori.operations.actions import create_staff
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        create_tenant(actor=Actor.system("e2e"), slug="acme", name="Acme 株式会社", admin_email="owner@acme.example")
        staff = create_staff(actor=Actor.system("e2e"), email="ops@provider.example", password=STAFF_PASSWORD)
    page.set_default_timeout(60_000)
    page.goto(f"{live_server.url}/provider/login/")
    page.locator("#id_email").fill(staff.email)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/provider/login/setup/")
    qr = page.get_by_role("img", name="QR code for the authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the data: image passed the CSP
    screenshot("provider-mfa-setup")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.locator("#id_code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Activate and sign in").click()
    page.wait_for_url(f"{live_server.url}/provider/")
    row = page.locator("tr", has_text="Acme 株式会社")
    assert row.locator('[data-usage="users"]').inner_text() == "1 (1)"
    screenshot("provider-tenants")
    page.get_by_role("link", name="Schedules").click()
    page.wait_for_url("**/provider/schedules/")
    job = page.locator("#job-auditdaily_digests")
    assert "Never run" in job.inner_text()
    job.get_by_role("button", name="Run now").click()
    page.wait_for_url("**/provider/schedules/")
    assert "The job is queued" in page.content()
    assert "Queued" in page.locator("#job-auditdaily_digests").inner_text()
    screenshot("provider-schedules")
    event = ProviderEvent.objects.get(action="schedule.run_now")
    assert event.actor_label == staff.email and event.target_label == "audit.daily_digests"
