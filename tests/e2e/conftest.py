"""Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MAMORI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]
# Test runs keep their screenshots under var/ (ignored by git); `make screenshots`
# points this at docs/screenshots to refresh the pictures the docs show.
SCREENSHOTS = Path(os.environ.get("MAMORI_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))


def _require_chromium() -> None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("MAMORI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MAMORI_REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM}")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")


@pytest.fixture
def page(live_server, monkeypatch):
    """A fresh browser page, English by default; Chromium is started and stopped per test.

    Playwright's sync API keeps an event loop running in this thread while it is
    open; the ORM calls the test itself makes are still synchronous, hence the
    async-safety switch, scoped to the test (no subprocess inherits it) and
    undone only after the browser has stopped.
    """
    _require_chromium()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture(params=["ja", "en"])
def lang(request):
    """The language of a journey: every journey runs in Japanese and in English."""
    return request.param


@pytest.fixture
def jpage(page, live_server, lang):
    """The browser page of a journey, in the journey's language (the language cookie)."""
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": live_server.url}])
    page.set_default_timeout(60_000)  # the shared test machine can be slow
    return page


# Screenshots of long pages are cut at this height: the docs want the top of a page, and
# the PNGs stay small.
MAX_SHOT_HEIGHT = 1600


def save_screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = page.evaluate("() => document.documentElement.scrollHeight")
    width = page.viewport_size["width"] if page.viewport_size else 1280
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": max(1, min(height, MAX_SHOT_HEIGHT))})
    return path


@pytest.fixture
def screenshot(page):
    def _shot(name: str) -> Path:
        return save_screenshot(page, name)

    return _shot
