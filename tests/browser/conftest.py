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


