"""The item-analysis report in Debian's Chromium: a researcher reads it at 1366 px and at 200% zoom in both
languages (no horizontal page scroll; the wide item table scrolls in its own box), sorts the table and opens an
item's curves. Screenshots go to /tmp/player-shots/analysis/."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assessment.accounts import create_user
from tests.assessment.test_item_analysis import DRIFTED, analysed_census

from ..live import LiveServer
from .conftest import SHOTS, WIDE, assert_reflows_at_200_percent, screenshot

FOLDER = SHOTS / "analysis"
PAGE_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_researcher_reads_sorts_and_opens_the_report_at_1366_px_and_200_percent(
        browser: Any, live_server: LiveServer, db: Session) -> None:
    run_id = analysed_census(db)
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    for lang, heading, drift in (("zh-TW", "試題分析", "定錨題漂移"), ("en", "Item analysis", "anchor drift")):
        context = browser.new_context(viewport=WIDE, locale=lang)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(f"{live_server.url}/login?lang={lang}")
        page.fill("input[name=username]", "res")
        page.fill("input[name=password]", "research-pass")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/results")
        page.goto(f"{live_server.url}/research/runs/{run_id}/analysis")
        assert page.locator("h1").inner_text().startswith(heading)
        assert page.evaluate(PAGE_OVERFLOW) <= 0, "horizontal page scroll at 1366 px"
        table = page.locator("table.analysis")
        wrap = page.locator("section .table-wrap").first
        assert wrap.evaluate("w => w.scrollWidth >= w.clientWidth")  # the table scrolls in its own box, if at all
        assert table.locator("tbody tr.flagged").count() == 3
        assert table.locator(f"tbody tr.flagged >> text={drift}").count() == 1
        screenshot(page, FOLDER, f"analysis-{lang}", full_page=False)

        # sort by Δb (descending on the second press): the drifted anchor comes first
        drift_button = table.locator("thead th button.sort").nth(15)
        drift_button.click()
        drift_button.click()
        assert table.locator("thead th").nth(15).get_attribute("aria-sort") == "descending"
        assert table.locator("tbody tr").first.locator("th").inner_text().startswith(DRIFTED)

        # an item's curves open in place
        details = page.locator(f"details.item[id$='-{DRIFTED}']")
        details.locator("summary").click()
        assert details.locator("svg.chart-curves").count() == 2 and details.locator("svg").first.is_visible()
        screenshot(page, FOLDER, f"analysis-item-{lang}", full_page=False)
        assert_reflows_at_200_percent(page, FOLDER, f"analysis-{lang}", full_page=False)
        assert errors == []
        context.close()
