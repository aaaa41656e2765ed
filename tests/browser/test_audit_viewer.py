"""The audit log in Debian's Chromium: a researcher filters it, and it reflows at 200% zoom in both languages."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assessment import audit

from ..live import LiveServer
from .conftest import SHOTS, WIDE, assert_reflows_at_200_percent, screenshot

FOLDER = SHOTS / "audit"


def test_researcher_filters_the_audit_log_and_it_reflows_at_200_percent(
        browser: Any, live_server: LiveServer, census: None, db: Session) -> None:
    # a long unbroken object name and details must wrap, not widen the page
    audit.record(db, "cli:operations-account", "responses.export", "/srv/ctcensus/exports/" + "x" * 100 + ".csv",
                 window="113", rows=5350, items=36, format="qti-results", not_reached="missing")
    db.commit()
    for lang, heading, button in (("zh-TW", "稽核紀錄", "篩選"), ("en", "Audit log", "Filter")):
        context = browser.new_context(viewport=WIDE, locale=lang)
        page = context.new_page()
        page.goto(f"{live_server.url}/login?lang={lang}")
        page.fill("input[name=username]", "res")
        page.fill("input[name=password]", "research-pass")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/results")
        page.click(f"header nav >> text={heading}")
        page.wait_for_url("**/audit")
        assert page.locator("h1").inner_text() == heading
        page.fill("input[name=action]", "results")
        page.click(f"button:has-text('{button}')")
        page.wait_for_url("**/audit?**action=results**")
        actions = page.locator("table.audit tbody td:nth-child(3)").all_inner_texts()
        assert actions and all(a.startswith("results.") for a in actions)
        page.goto(f"{live_server.url}/audit")
        assert page.locator("table.audit tbody tr").count() >= 3
        screenshot(page, FOLDER, f"audit-{lang}", full_page=True)
        assert_reflows_at_200_percent(page, FOLDER, f"audit-{lang}", full_page=True)
        context.close()
