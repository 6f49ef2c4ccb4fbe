"""The foundation journey (issue 2) in a real browser, in Japanese and in English.

A provider creates a tenant with the CLI; its admin opens the printed one-time
link, sets a password, creates a workspace, a label and a record with that
label, finds the record by label, and sees it all in the operation log. Every
page speaks the journey's language and passes the accessibility smoke checks.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from tests.e2e.journeys import check_page, heading, shot_name, tr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long passphrase for e2e 2026"


def _create_tenant_and_get_link(live_server, language: str = "en") -> str:
    out = io.StringIO()
    call_command("tenant", "create", "e2e", "--name", "E2E 株式会社", "--admin-email", "admin@e2e.example",
                 "--language", language, stdout=out)
    match = re.search(r"https?://\S+/t/e2e/welcome/\S+/", out.getvalue())
    assert match, out.getvalue()
    path = match.group(0).split("/t/e2e/", 1)[1]
    return f"{live_server.url}/t/e2e/{path}"


def test_admin_signs_in_with_link_and_works_with_records(jpage, lang, live_server, screenshot):
    page = jpage
    link = _create_tenant_and_get_link(live_server, lang)
    base = f"{live_server.url}/t/e2e"

    page.goto(link)
    page.get_by_role("button", name=tr(lang, "Sign in")).click()
    page.wait_for_url(f"{base}/account/set-password/")
    check_page(page, lang)
    screenshot(shot_name("set-password", lang))
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name=tr(lang, "Save password")).click()
    page.wait_for_url(f"{base}/")
    heading(page, lang, "Dashboard")

    page.goto(f"{base}/workspaces/new/")
    heading(page, lang, "New workspace")
    page.get_by_label(tr(lang, "Name")).fill("川崎工場")
    page.get_by_label(tr(lang, "Description")).fill("Inspection records of the Kawasaki plant")
    page.get_by_role("button", name=tr(lang, "Save")).click()
    page.wait_for_load_state()

    page.goto(f"{base}/labels/new/")
    heading(page, lang, "New label")
    page.get_by_label(tr(lang, "Name")).fill("urgent")
    page.get_by_role("button", name=tr(lang, "Save")).click()
    page.wait_for_load_state()

    page.goto(f"{base}/records/new/")
    heading(page, lang, "New record")
    page.get_by_label(tr(lang, "Workspace")).select_option(label="川崎工場")
    page.get_by_label(tr(lang, "Title")).fill("Pump P-101 <b>inspection</b>")
    page.get_by_label(tr(lang, "Body")).fill("Seal leak found.\nReplace within 7 days.")
    page.get_by_label(tr(lang, "Classification")).select_option("confidential")
    page.get_by_label("urgent").check()
    page.get_by_label(tr(lang, "Properties")).fill("site: Kawasaki\nowner: Maintenance")
    page.get_by_role("button", name=tr(lang, "Save")).click()
    page.wait_for_url(re.compile(r".*/records/\d+/$"))
    check_page(page, lang)
    # Markup typed into the title is shown as text, not interpreted.
    assert page.get_by_role("heading", name="Pump P-101 <b>inspection</b>").is_visible()
    assert page.get_by_text("Kawasaki", exact=True).first.is_visible()
    screenshot(shot_name("record-detail", lang))

    page.goto(f"{base}/records/")
    heading(page, lang, "Records")
    page.get_by_label("urgent").check()
    page.get_by_role("button", name=tr(lang, "Search"), exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Pump P-101 <b>inspection</b>").is_visible()
    screenshot(shot_name("records", lang))

    page.goto(f"{base}/audit/")
    heading(page, lang, "Operation log")
    table = page.locator("table")
    for label in ("Record created", "Label created", "Workspace created", "Password set"):
        assert table.get_by_text(tr(lang, label)).first.is_visible(), label
    screenshot(shot_name("operation-log", lang))

    page.goto(f"{base}/")
    heading(page, lang, "Dashboard")
    screenshot(shot_name("dashboard", lang))

    # The language switch in the header turns the console into the other language.
    other = "en" if lang == "ja" else "ja"
    page.locator("#lang-select").select_option(other)
    page.get_by_role("button", name=tr(lang, "Change")).click()
    page.wait_for_load_state()
    heading(page, other, "Dashboard")
