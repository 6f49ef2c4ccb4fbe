"""The provider console's "Control checks" page in a real browser: a security officer signs in
(password and TOTP), runs every check, sees each control's latest result, opens one control's
history and downloads the auditor ZIP — with no CSP violation on the way."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.db import connection
from django.utils import timezone

from mamori.audit.events import Actor
from mamori.compliance.models import ControlRun
from mamori.tenancy.context import use_tenant
from tests.e2e.conftest import page, screenshot  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STAFF_EMAIL = "officer@provider.example"
STAFF_PASSWORD = "provider staff passphrase 9"  # noqa: S105 (a test password)


@pytest.fixture
def officer_secret(settings):
    settings.MAMORI_PROVIDER_MFA = True
    from mamori.operations import mfa
    from mamori.operations.actions import create_staff
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        create_tenant(actor=Actor.system("e2e"), slug="ctlco", name="管理策株式会社", admin_email="owner@ctlco.example")
        staff = create_staff(actor=Actor.system("e2e"), email=STAFF_EMAIL, password=STAFF_PASSWORD,
                             role="security_officer", name="Suzuki Security")
        secret = mfa.new_secret()
        staff.totp_secret = mfa.seal_secret(staff.pk, secret)
        staff.mfa_enrolled_at = timezone.now()
        staff.save(update_fields=["totp_secret", "mfa_enrolled_at"])
    return secret


def test_security_officer_runs_checks_reads_history_and_downloads_the_report(officer_secret, page, live_server,  # noqa: F811
                                                                             screenshot):  # noqa: F811
    from mamori.operations import mfa

    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.set_default_timeout(120_000)  # running every check takes a while on the shared machine
    page.goto(f"{live_server.url}/provider/login/")
    page.locator("#id_email").fill(STAFF_EMAIL)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/provider/login/verify/")
    page.locator("#id_code").fill(mfa.code_for(officer_secret, mfa.current_step()))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/provider/")

    page.get_by_role("link", name="Control checks").first.click()
    page.wait_for_url("**/provider/controls/")
    assert page.locator("#control-cld-9-5-1").inner_text().count("Never checked") == 1
    page.get_by_role("button", name="Run all checks now").click()
    page.wait_for_url("**/provider/controls/")
    assert ControlRun.objects.get().trigger == "console"
    row = page.locator("#control-6-1-1")
    assert "Pass" in row.inner_text() and "grace period 30 days" in row.inner_text()
    rls = page.locator("#control-cld-9-5-1").inner_text()
    if connection.vendor == "postgresql":
        assert "Pass" in rls and "RLS forced on" in rls
    else:
        assert "Not applicable" in rls and "no row-level security" in rls
    screenshot("provider-controls")

    row.get_by_role("link", name="History").click()
    page.wait_for_url("**/provider/controls/6.1.1/")
    page.get_by_text("Show").first.click()
    assert '"termination_grace_days": 30' in page.locator("#history").inner_text()

    page.goto(f"{live_server.url}/provider/controls/")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download ZIP").click()
    data = open(info.value.path(), "rb").read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        latest = json.loads(archive.read("results/latest.json"))
    assert len(latest) == ControlRun.objects.get().counts["total"]
    assert violations == []
