"""IP allowlist in a real browser (issue 4, item 2).

The live server treats the loopback address as a trusted reverse proxy, so the browser's
``X-Forwarded-For`` header (set with Playwright's extra HTTP headers) plays the client
address a real proxy would report. A tenant admin saves an allowlist on the settings page;
a browser "coming from" an unlisted address gets the blocked page, a listed one signs in.
"""

from __future__ import annotations

import pytest

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def setup(settings):
    settings.MAMORI_TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    from mamori.accounts.models import User
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("e2e"), slug="ipco", name="IP制限株式会社",
                                                admin_email="owner@ipco.example")
    with use_tenant(tenant):
        admin = User(tenant=tenant, email="admin@ipco.example", name="Admin", role=Role.TENANT_ADMIN, language="en")
        admin.set_password(PASSWORD)
        admin.save()
    return tenant


def _sign_in(page, base):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill("admin@ipco.example")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_admin_saves_an_allowlist_and_an_unlisted_address_is_blocked(setup, page, live_server, screenshot):
    tenant = setup
    base = f"{live_server.url}/t/ipco"
    page.set_extra_http_headers({"X-Forwarded-For": "203.0.113.25"})  # "the office", via the trusted proxy
    _sign_in(page, base)

    page.goto(f"{base}/settings/security/")
    page.get_by_role("link", name="IP allowlist").click()
    assert page.locator("#my-ip").inner_text() == "203.0.113.25"

    # A malformed line: an error naming the line, nothing saved.
    page.locator("#id_entries").fill("203.0.113.0/24 Tokyo office\n300.1.2.3 typo")
    page.locator("#id_enabled").check()
    page.get_by_role("button", name="Save IP allowlist").click()
    page.wait_for_load_state()
    # Saving needs the password again; the submitted form is carried out afterwards.
    assert "/accounts/reauthenticate/" in page.url
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    errors = page.locator("#entries-errors")
    assert "Line 2" in errors.inner_text() and "300.1.2.3" in errors.inner_text()

    page.locator("#id_entries").fill("203.0.113.0/24 Tokyo office\n2001:db8:42::/48 VPN")
    page.get_by_role("button", name="Save IP allowlist").click()
    page.wait_for_load_state()
    assert page.get_by_text("IP allowlist saved.").is_visible()
    assert "(on the list)" in page.locator("main").inner_text()
    screenshot("ip-allowlist-settings")

    # The same browser from an unlisted address: the blocked page, before any sign-in check.
    page.set_extra_http_headers({"X-Forwarded-For": "198.51.100.77"})
    response = page.goto(f"{base}/accounts/login/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Access from this network is not allowed").is_visible()
    assert page.locator("#blocked-ip").inner_text() == "198.51.100.77"
    screenshot("ip-allowlist-blocked")

    # A forged header cannot help: the proxy appends the real address, the right-most one counts.
    page.set_extra_http_headers({"X-Forwarded-For": "203.0.113.25, 198.51.100.77"})
    assert page.goto(f"{base}/").status == 403

    # Back on a listed IPv6 address: allowed again.
    page.set_extra_http_headers({"X-Forwarded-For": "2001:db8:42::9"})
    assert page.goto(f"{base}/").status == 200

    from mamori.audit.models import AuditEvent

    with use_tenant(tenant):
        blocked = list(AuditEvent.objects.filter(action="access.ip_blocked").values_list("ip", flat=True))
    assert blocked == ["198.51.100.77"]  # the second refusal of the same address fell in the de-dup window
