"""The admin's security and evidence pages in a real browser, English and Japanese.

Each page must load (200) with its heading and without a Content-Security-Policy
violation (no inline script or style slipped in); the screenshots are the ones the
documentation shows.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_foundation_journey import PASSWORD, _create_tenant_and_get_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    ("settings/security/", "security-overview"),
    ("settings/password-policy/", "password-policy"),
    ("settings/security/mfa/", "mfa-policy"),
    ("settings/security/sessions/", "session-policy"),
    ("settings/security/sso/", "sso-settings"),
    ("settings/security/scim/", "scim-settings"),
    ("me/sessions/", "my-sessions"),
    ("audit/", "audit-search"),
    ("signins/", "signin-history"),
    ("evidence/", "evidence-packages"),
    ("settings/siem/", "siem-webhooks"),
    ("settings/retention/", "log-retention"),
]


def test_admin_pages_load_without_csp_violations(page, live_server, screenshot):
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    link = _create_tenant_and_get_link(live_server)
    base = f"{live_server.url}/t/e2e"
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account/set-password/")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(f"{base}/")
    for path, name in PAGES:
        response = page.goto(f"{base}/{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("h1").first.inner_text().strip(), path
        screenshot(name)
    # The overview in Japanese too.
    page.context.add_cookies([{"name": "django_language", "value": "ja", "url": live_server.url}])
    page.goto(f"{base}/settings/security/")
    assert page.locator("h1").first.inner_text().strip() == "セキュリティ"
    screenshot("security-overview-ja")
    assert violations == [], violations
