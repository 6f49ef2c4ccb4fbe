"""Audit journey (issue 5) in Japanese and English: a tenant admin filters the operation log by
action, opens an event and reads the before/after diff, requests an evidence package for the
period (built at once by the immediate task backend) and opens the SIEM webhook pages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant
from tests.e2e.journeys import check_page, heading, make_tenant, shot_name, sign_in, tr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def immediate(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "files")}}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_admin_filters_the_log_reads_a_diff_and_requests_evidence(immediate, jpage, lang, live_server, screenshot):
    from mamori.records import actions

    page = jpage
    tenant, admin = make_tenant("audco", "監査株式会社", admin_email="admin@audco.example", lang=lang)
    with use_tenant(tenant):
        ws = actions.create_workspace(actor=Actor.for_user(admin), name="品質保証")
        record = actions.create_record(actor=Actor.for_user(admin), workspace_id=ws.pk, title="Valve V-7 check",
                                       classification="internal")
        actions.update_record(actor=Actor.for_user(admin), record_id=record.pk, title="Valve V-7 check (done)",
                              classification="confidential")
    base = f"{live_server.url}/t/audco"
    sign_in(page, base, "admin@audco.example")

    # Filter by action: only the update is left.
    page.goto(f"{base}/audit/")
    heading(page, lang, "Operation log")
    page.locator("#id_action").fill("record.updated")
    page.get_by_role("button", name=tr(lang, "Filter")).click()
    page.wait_for_url(f"{base}/audit/?*")
    check_page(page, lang)
    rows = page.locator("table tbody tr")
    assert rows.count() == 1 and tr(lang, "Record updated") in rows.inner_text()
    screenshot(shot_name("audit-filtered", lang))

    # The event's detail: the changed fields, before and after.
    rows.first.get_by_role("link").click()
    page.wait_for_url(f"{base}/audit/*/")
    heading(page, lang, "Record updated")
    diff = page.locator("table.diff")
    changed = diff.locator("tr.changed")
    assert changed.count() >= 2, diff.inner_text()
    title_row = diff.locator("tr", has=page.locator("th", has_text="title"))
    assert "Valve V-7 check" in title_row.locator(".diff-before").inner_text()
    assert "Valve V-7 check (done)" in title_row.locator(".diff-after").inner_text()
    screenshot(shot_name("audit-event-diff", lang))

    # An evidence package of today's events.
    page.goto(f"{base}/evidence/")
    heading(page, lang, "Evidence packages")
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()  # the tenant's time zone
    page.locator("#id_since").fill(today)
    page.locator("#id_until").fill(today)
    page.get_by_role("button", name=tr(lang, "Request package")).click()
    page.wait_for_url(f"{base}/evidence/*/")
    heading(page, lang, "Evidence package")
    assert tr(lang, "Evidence package requested. It is generated in the background.") in page.locator("main").inner_text()
    assert page.get_by_role("link", name=tr(lang, "Download package")).is_visible()
    screenshot(shot_name("audit-evidence-package", lang))

    # SIEM webhooks: the list and the form for a new one.
    page.goto(f"{base}/settings/siem/")
    heading(page, lang, "SIEM webhooks")
    page.get_by_role("link", name=tr(lang, "New webhook")).click()
    page.wait_for_url(f"{base}/settings/siem/new/")
    heading(page, lang, "New webhook")
    screenshot(shot_name("audit-siem-new", lang))
