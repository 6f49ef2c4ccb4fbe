"""Accounts journey (issue 3) in Japanese and English: a tenant admin creates an organisational
unit, invites a user into it as an editor, finds the invitation on the user's page and in the
user list, changes the role to reviewer and reads the roles explained on the help page.
(The CSV import is its own journey: test_user_import.py.)"""

from __future__ import annotations

import pytest

from mamori.access.roles import Role
from mamori.tenancy.context import use_tenant
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.journeys import (
    PASSWORD,
    check_page,
    confirm_password,
    heading,
    make_tenant,
    shot_name,
    sign_in,
    tr,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_a_unit_invites_a_user_and_changes_the_role(jpage, lang, live_server, screenshot, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    page = jpage
    tenant, _admin = make_tenant("acco", "アカウント株式会社", admin_email="admin@acco.example", lang=lang)
    base = f"{live_server.url}/t/acco"
    sign_in(page, base, "admin@acco.example")

    # An organisational unit.
    page.goto(f"{base}/units/")
    heading(page, lang, "Organizational units")
    page.get_by_role("link", name=tr(lang, "New unit")).click()
    page.wait_for_url(f"{base}/units/new/")
    heading(page, lang, "New unit")
    page.locator("#id_name").fill("営業部")
    page.locator("#id_code").fill("SALES")
    page.get_by_role("button", name=tr(lang, "Save")).click()
    page.wait_for_url(f"{base}/units/*/")
    assert page.locator("h1").inner_text() == "営業部"
    check_page(page, lang)
    screenshot(shot_name("accounts-unit", lang))

    # An invitation into that unit, as an editor.
    page.goto(f"{base}/users/invite/")
    heading(page, lang, "Invite a user")
    page.locator("#id_email").fill("sato@acco.example")
    page.locator("#id_name").fill("佐藤 花子")
    page.locator("#id_role").select_option(Role.EDITOR)
    page.get_by_label("営業部").check()
    page.locator("#id_language").select_option(lang)
    screenshot(shot_name("accounts-invite", lang))
    page.get_by_role("button", name=tr(lang, "Send invitation")).click()
    confirm_password(page)
    page.wait_for_url(f"{base}/users/*/")
    check_page(page, lang)
    assert page.locator("h1").inner_text() == "佐藤 花子"
    main = page.locator("main").inner_text()
    assert tr(lang, "Invitation sent to %(email)s.") % {"email": "sato@acco.example"} in main
    assert tr(lang, "Editor") in main and "営業部" in main
    assert page.get_by_role("button", name=tr(lang, "Re-send invitation")).is_visible()
    screenshot(shot_name("accounts-user-invited", lang))

    # A new role.
    page.get_by_role("link", name=tr(lang, "Edit"), exact=True).click()
    page.locator("#id_role").select_option(Role.REVIEWER)
    page.get_by_role("button", name=tr(lang, "Save")).click()
    confirm_password(page)
    page.wait_for_url(f"{base}/users/*/")
    assert tr(lang, "Reviewer") in page.locator("main").inner_text()

    page.goto(f"{base}/users/")
    heading(page, lang, "Users")
    row = page.locator("tr", has_text="sato@acco.example")
    assert tr(lang, "Reviewer") in row.inner_text()
    screenshot(shot_name("accounts-users", lang))

    page.goto(f"{base}/help/roles/")
    check_page(page, lang)
    assert page.get_by_role("heading", name=tr(lang, "Roles"), exact=True).is_visible()

    from mamori.accounts.models import User

    with use_tenant(tenant):
        sato = User.objects.get(email="sato@acco.example")
        assert sato.is_invited and sato.role == Role.REVIEWER and sato.language == lang


def test_admin_bans_the_company_name_in_passwords(jpage, lang, live_server, screenshot):
    """Password policy → banned words (one per line); a password containing one is then refused
    with a message naming the word, whatever its case or width."""
    page = jpage
    make_tenant("banw", "禁止語株式会社", admin_email="admin@banw.example", lang=lang)
    base = f"{live_server.url}/t/banw"
    sign_in(page, base, "admin@banw.example")

    page.goto(f"{base}/settings/password-policy/")
    confirm_password(page)
    heading(page, lang, "Password policy")
    page.get_by_label(tr(lang, "Banned words")).fill("Acme\nRocketMail")
    page.get_by_role("button", name=tr(lang, "Save password policy")).click()
    confirm_password(page)
    page.wait_for_url(f"{base}/settings/password-policy/")
    assert page.get_by_label(tr(lang, "Banned words")).input_value() == "acme\nrocketmail"
    check_page(page, lang)
    # The field is far down the page: a picture of the field itself, with the saved words.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("div.field", has=page.locator("#id_banned_words")).screenshot(
        path=str(SCREENSHOTS / f"{shot_name('accounts-banned-words', lang)}.png"))

    page.goto(f"{base}/account/password/")
    page.locator("#id_current_password").fill(PASSWORD)
    page.locator("#id_password1").fill("ＡＣＭＥ is the best place to work")
    page.locator("#id_password2").fill("ＡＣＭＥ is the best place to work")
    page.get_by_role("button", name=tr(lang, "Change password")).click()
    message = tr(lang, "It cannot contain “%(word)s”: your organisation does not allow this word in passwords.",
                 word="acme")
    assert message in page.locator("main").inner_text()
    check_page(page, lang)
    screenshot(shot_name("accounts-banned-word-refused", lang))
