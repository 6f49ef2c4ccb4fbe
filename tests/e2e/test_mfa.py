"""TOTP in a real browser (issue 4), in Japanese and in English: a policy requires MFA, the user is led to enrolment,
reads the key from the page, enters a code made by pyotp (as an authenticator app does),
signs out, and signs in again with password + code."""

from __future__ import annotations

import time

import pyotp
import pytest

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.e2e.journeys import check_page, heading, shot_name, tr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def setup():
    from mamori.accounts.models import User
    from mamori.multifactor.actions import update_mfa_policy
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _admin, _secret = create_tenant(actor=Actor.system("e2e"), slug="mfaco", name="二要素株式会社",
                                                admin_email="owner@mfaco.example")
    with use_tenant(tenant):
        admin = User(tenant=tenant, email="admin@mfaco.example", name="Admin", role=Role.TENANT_ADMIN, language="en")
        admin.set_password(PASSWORD)
        admin.save()
        update_mfa_policy(actor=Actor.for_user(admin), requirement="admins")
    return tenant


def _password(page, base, lang="en"):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill("admin@mfaco.example")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name=tr(lang, "Sign in")).click()


def test_enrol_totp_sign_out_and_sign_in_with_a_code(setup, jpage, lang, live_server, screenshot):
    tenant, page = setup, jpage
    base = f"{live_server.url}/t/mfaco"
    _password(page, base, lang)
    # The policy requires MFA of admins: straight to the two-factor page, nothing else.
    page.wait_for_url(f"{base}/accounts/2fa/")
    page.goto(f"{base}/records/")
    page.wait_for_url(f"{base}/accounts/2fa/")
    check_page(page, lang)
    screenshot(shot_name("mfa-required", lang))
    page.get_by_role("link", name=tr(lang, "Set up an authenticator app")).click()
    page.wait_for_load_state()
    # allauth asks for the password again before any MFA change (explicit re-authentication).
    page.wait_for_url(f"{base}/accounts/reauthenticate/**")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(f"{base}/accounts/2fa/totp/activate/")
    assert page.locator("img.qr").get_attribute("src").startswith("data:image/svg+xml;base64,")
    secret = page.locator("#authenticator_secret").input_value()
    check_page(page, lang)
    screenshot(shot_name("mfa-enrol-totp", lang))
    page.locator("#id_code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=tr(lang, "Activate")).click()
    page.wait_for_load_state()
    assert "/accounts/2fa/" in page.url
    page.goto(f"{base}/")
    assert page.url == f"{base}/"  # enrolled: the console is open again

    page.get_by_role("button", name=tr(lang, "Sign out")).first.click()
    page.wait_for_load_state()
    if "/accounts/logout/" in page.url:
        page.get_by_role("button", name=tr(lang, "Sign out")).last.click()
        page.wait_for_load_state()

    _password(page, base, lang)
    page.wait_for_url(f"{base}/accounts/2fa/authenticate/")
    check_page(page, lang)
    # A wrong code first: refused with a message.
    good_next = pyotp.TOTP(secret).at(time.time() + 30)  # the enrolment code's step is used up
    wrong = f"{(int(good_next) + 1) % 1_000_000:06d}"
    page.locator("#id_code").fill(wrong)
    page.get_by_role("button", name=tr(lang, "Verify")).click()
    page.wait_for_load_state()
    assert page.locator(".error").count() >= 1
    screenshot(shot_name("mfa-code-refused", lang))
    page.locator("#id_code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name=tr(lang, "Verify")).click()
    page.wait_for_url(f"{base}/")
    heading(page, lang, "Dashboard")
    screenshot(shot_name("mfa-signed-in", lang))
    with use_tenant(tenant):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"mfa.authenticator_added", "auth.mfa_failed", "auth.mfa_succeeded"} <= actions


def test_security_key_with_chromium_virtual_authenticator(setup, page, live_server, screenshot, settings):
    """WebAuthn through allauth's static JavaScript and Mamori's starter script, with
    Chromium's virtual authenticator (DevTools WebAuthn domain) standing in for a key."""
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://localhost in the test
    tenant = setup
    base = f"{live_server.url}/t/mfaco"
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False,
        "hasUserVerification": False, "automaticPresenceSimulation": True}})
    _password(page, base)
    page.wait_for_url(f"{base}/accounts/2fa/")
    page.get_by_role("link", name="Add a security key").click()
    page.wait_for_url(f"{base}/accounts/reauthenticate/**")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(f"{base}/accounts/2fa/webauthn/add/")
    page.locator("#id_name").fill("Virtual key")
    screenshot("mfa-add-security-key")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    page.goto(f"{base}/")
    assert page.url == f"{base}/"

    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    _password(page, base)
    page.wait_for_url(f"{base}/accounts/2fa/authenticate/")
    page.get_by_role("button", name="Use a security key or passkey").click()
    page.wait_for_url(f"{base}/")
    with use_tenant(tenant):
        assert AuditEvent.objects.filter(action="auth.mfa_succeeded", after__type="webauthn").exists()
