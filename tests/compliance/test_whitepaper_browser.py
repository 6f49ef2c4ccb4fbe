"""The public whitepaper page in Chromium: served under the site's CSP without a violation,
styled by the static stylesheet, and the language and download links work."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import page, screenshot  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_public_whitepaper_page_in_a_browser(page, screenshot, live_server):  # noqa: F811
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    response = page.goto(f"{live_server.url}/security/whitepaper?lang=ja")
    assert response.status == 200
    assert "style-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("h1").inner_text() == "セキュリティホワイトペーパー"
    assert page.locator("#s-segregation h3").inner_text().endswith("(CLD.9.5.1)")
    # the static stylesheet applied (CSP would block an inline one): table borders are drawn
    border = page.locator(".wp-table td").first.evaluate("e => getComputedStyle(e).borderTopStyle")
    assert border == "solid"
    screenshot("whitepaper-page-ja")
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Security whitepaper"
    with page.expect_download() as info:
        page.get_by_role("link", name="Download Markdown").click()
    download = info.value
    assert download.suggested_filename == "security-whitepaper-en.md"
    assert "(CLD.9.5.1)" in open(download.path(), encoding="utf-8").read()
    assert not failed, failed
    assert not [p for p in problems if "Failed to load resource" not in p], problems
