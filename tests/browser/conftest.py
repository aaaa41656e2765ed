"""Real-browser fixtures: Debian's Chromium driven by Playwright, against the app on a live port.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (install it with
`apt-get install chromium`). Without it the browser tests skip, except under CI=true,
where they fail.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..live import FORM_ITEMS, DemoTest, LiveServer, demo_test, live_server  # noqa: F401  (fixtures)

CHROMIUM = os.environ.get("CTCENSUS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SHOTS = Path(os.environ.get("CTCENSUS_SHOTS", "/tmp/player-shots"))
WIDE = {"width": 1366, "height": 768}     # a school Chromebook
ZOOM_200 = {"width": 683, "height": 384}  # what 1366x768 at 200% zoom leaves in CSS pixels


def screenshot(page: Any, folder: Path, name: str, full_page: bool = False) -> None:
    """Save a screenshot for people to look at (not compared by the tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def new_page(browser: Any, *, timeout: int = 20_000, ignore: tuple[str, ...] = ()) -> tuple[Any, Any, list[str]]:
    """A zh-TW context at WIDE, its page, and the list its script errors and console errors go to.

    Console messages about a resource that failed to load, or containing one of `ignore`, are expected.
    """
    context = browser.new_context(viewport=WIDE, locale="zh-TW")
    context.set_default_timeout(timeout)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and not any(s in msg.text for s in ("Failed to load resource", *ignore)) else None)
    return context, page, errors


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign in as staff through the zh-TW login form."""
    page.goto(f"{base_url}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(password)
    page.get_by_role("button", name="登入").click()


def assert_reflows_at_200_percent(page: Any, folder: Path, name: str, full_page: bool = False) -> None:
    """At 200% zoom the page reflows: nothing is wider than the window (then back to WIDE)."""
    page.set_viewport_size(ZOOM_200)
    page.wait_for_timeout(200)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    screenshot(page, folder, f"zoom200-{name}", full_page)
    page.set_viewport_size(WIDE)
    assert overflow <= 0, f"{name}: {overflow}px of horizontal scrolling at 200% zoom"


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = (f"browser tests need Debian's Chromium at {CHROMIUM}: install Debian's chromium: "
               "apt-get install chromium")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: browser tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return _chromium_or_skip()


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the playwright package is missing: pip install -e .[dev]")
        pytest.skip("the playwright package is missing: pip install -e .[dev]")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


