"""The public status page in a real browser, rendered from probe results the probe task
measured (no rows written by hand)."""

from __future__ import annotations

import pytest

from mamori.monitoring.components import COMPONENTS
from mamori.monitoring.models import ProbeResult
from mamori.monitoring.tasks import run_probes_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def measured():
    for _ in range(3):  # three rounds, as the worker would run them a minute apart
        assert run_probes_task.call() == {key: True for key in COMPONENTS}
    assert ProbeResult.objects.count() == 3 * len(COMPONENTS)


def test_status_page_in_english_and_japanese(measured, page, live_server, screenshot):
    page.goto(f"{live_server.url}/status?lang=en")
    assert page.locator("#overall").inner_text().strip() == "All systems operational"
    components = page.locator("li.component")
    assert components.count() == len(COMPONENTS)
    for key in COMPONENTS:
        row = page.locator(f"#component-{key}")
        assert row.locator(".state").inner_text() == "Operational"
        assert row.locator(".uptime").inner_text() == "100.00% uptime"
        assert row.locator("svg.uptime-bar rect").count() == 90
        assert row.locator("svg.uptime-bar rect.up-full").count() == 1  # today
    # The stylesheet applies (no inline styles): today's cell is green, the days without data grey.
    today = page.locator("#component-database svg rect.up-full")
    assert today.evaluate("el => getComputedStyle(el).fill") == "rgb(45, 164, 78)"
    empty = page.locator("#component-database svg rect.up-none").first
    assert empty.evaluate("el => getComputedStyle(el).fill") == "rgb(209, 217, 224)"
    assert page.locator("text=No maintenance is planned.").is_visible()
    screenshot("status-page-en")

    page.get_by_role("link", name="日本語").click()
    page.wait_for_url("**/status?lang=ja")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("#overall").inner_text().strip() == "すべてのサービスが正常に稼働しています"
    assert page.locator("#component-storage .component-name").inner_text() == "ファイルストレージ"
    screenshot("status-page-ja")


def test_feed_link_serves_atom(measured, page, live_server):
    page.goto(f"{live_server.url}/status?lang=en")
    href = page.locator("link[rel=alternate][type='application/atom+xml']").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"].startswith("application/atom+xml")
    assert b"<feed" in response.body()
