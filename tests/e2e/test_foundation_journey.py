"""The foundation journey in a real browser.

A provider creates a tenant with the CLI; its admin opens the printed one-time
link, sets a password, creates a workspace, a label and a record with that
label, finds the record by label, and sees it all in the operation log.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long passphrase for e2e 2026"


def _create_tenant_and_get_link(live_server) -> str:
    out = io.StringIO()
    call_command("tenant", "create", "e2e", "--name", "E2E 株式会社", "--admin-email", "admin@e2e.example",
                 "--language", "en", stdout=out)
    match = re.search(r"https?://\S+/t/e2e/welcome/\S+/", out.getvalue())
    assert match, out.getvalue()
    path = match.group(0).split("/t/e2e/", 1)[1]
    return f"{live_server.url}/t/e2e/{path}"


def test_admin_signs_in_with_link_and_works_with_records(page, live_server, screenshot):
    link = _create_tenant_and_get_link(live_server)
    base = f"{live_server.url}/t/e2e"

    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account/set-password/")
    screenshot("set-password")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/workspaces/new/")
    page.get_by_label("Name").fill("Kawasaki plant")
    page.get_by_label("Description").fill("Inspection records of the Kawasaki plant")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()

    page.goto(f"{base}/labels/new/")
    page.get_by_label("Name").fill("urgent")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()

    page.goto(f"{base}/records/new/")
    page.get_by_label("Workspace").select_option(label="Kawasaki plant")
    page.get_by_label("Title").fill("Pump P-101 <b>inspection</b>")
    page.get_by_label("Body").fill("Seal leak found.\nReplace within 7 days.")
    page.get_by_label("Classification").select_option("confidential")
    page.get_by_label("urgent").check()
    page.get_by_label("Properties").fill("site: Kawasaki\nowner: Maintenance")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/records/\d+/$"))
    # Markup typed into the title is shown as text, not interpreted.
    assert page.get_by_role("heading", name="Pump P-101 <b>inspection</b>").is_visible()
    assert page.get_by_text("Kawasaki", exact=True).first.is_visible()
    screenshot("record-detail")

    page.goto(f"{base}/records/")
    page.get_by_label("urgent").check()
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Pump P-101 <b>inspection</b>").is_visible()
    screenshot("records")

    page.goto(f"{base}/audit/")
    table = page.locator("table")
    for label in ("Record created", "Label created", "Workspace created", "Password set"):
        assert table.get_by_text(label).first.is_visible(), label
    screenshot("operation-log")

    page.goto(f"{base}/")
    screenshot("dashboard")

    # The same console in Japanese.
    page.get_by_label("Language").select_option("ja")
    page.get_by_role("button", name="Change").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "ja"
    screenshot("dashboard-ja")
