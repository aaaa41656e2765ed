"""The design simulation page in Debian's Chromium: a researcher runs a design from the bank, reads the report,
and the page reflows at 200% zoom (1366 px wide) in both languages."""
from __future__ import annotations

from typing import Any

from ..live import LiveServer
from .conftest import SHOTS, WIDE, assert_reflows_at_200_percent, screenshot

FOLDER = SHOTS / "design"


def test_researcher_runs_a_design_and_the_report_reflows_at_200_percent(
        browser: Any, live_server: LiveServer, census: None) -> None:
    for lang, workbench, nav, heading, run in (
            ("zh-TW", "研究工作台", "試題設計模擬", "模擬結果", "執行模擬"),
            ("en", "Research", "Design simulation", "Simulation report", "Run the simulation")):
        context = browser.new_context(viewport=WIDE, locale=lang)
        page = context.new_page()
        page.goto(f"{live_server.url}/login?lang={lang}")
        page.fill("input[name=username]", "res")
        page.fill("input[name=password]", "research-pass")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/results")
        page.click(f"header nav >> text={workbench}")  # the design page is in the workbench's sub-nav
        page.click(f"nav.subnav >> text={nav}")
        page.wait_for_url("**/research/design")
        assert_reflows_at_200_percent(page, FOLDER, f"form-{lang}", full_page=True)
        for name, value in (("n5", "300"), ("n8", "300"), ("schools5", "6"), ("schools8", "3"),
                            ("replications", "2")):
            page.fill(f"input[name={name}]", value)
        page.click(f"button:has-text('{run}')")
        page.wait_for_selector("section.design-report")
        assert page.locator("section.design-report h2").inner_text() == heading
        assert page.locator("svg.chart-scatter circle.chart-point").count() > 10
        assert page.locator("table.design-schools tbody tr").count() >= 2
        page.click("details.design-items summary")
        screenshot(page, FOLDER, f"report-{lang}", full_page=True)
        assert_reflows_at_200_percent(page, FOLDER, f"report-{lang}", full_page=True)
        context.close()
