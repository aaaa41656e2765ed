"""The research workbench in Debian's Chromium: a researcher starts a calibration run from the page, watches its
progress bar move to done (a real `ctcensus worker` process takes the job) and reads the summary; the workbench,
the run and an item page have no horizontal scroll at 1366 px and at 200% zoom."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from tests.assessment.test_calibration_runs import simulate_known_census
from tests.webapp.test_cli_calibrate_runs import worker  # noqa: F401  (fixture: a real `ctcensus worker` process)

from ..live import LiveServer
from .conftest import SHOTS, assert_reflows_at_200_percent, new_page, screenshot, sign_in

FOLDER = SHOTS / "research"


def _no_scroll_at_1366(page: Any, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: {overflow}px of horizontal scrolling at 1366 px"


@pytest.mark.usefixtures("worker")
def test_a_researcher_starts_a_run_and_watches_it_to_done(
        browser: Any, live_server: LiveServer, db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=600)
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    db.rollback()
    context, page, errors = new_page(browser, timeout=60_000)
    sign_in(page, live_server.url, "res", "research-pass")
    page.click("header nav >> text=研究工作台")
    page.wait_for_url("**/research/")
    assert page.locator("h1").inner_text() == "研究工作台：校準"
    _no_scroll_at_1366(page, "workbench")
    assert_reflows_at_200_percent(page, FOLDER, "workbench-zh", full_page=True)

    page.get_by_label("參數組名稱").fill("cal-browser")
    page.get_by_label("施測期").select_option("113")
    page.get_by_label("分組").select_option("grade")
    page.get_by_role("button", name="開始校準").click()
    page.wait_for_url("**/research/runs/*")
    run_path = page.url.split(live_server.url, 1)[1]
    first_status = page.locator("#run-status").inner_text()
    assert first_status in ("排隊中", "執行中"), first_status  # the worker has not finished it yet
    assert page.locator("#run-progress").is_visible()
    screenshot(page, FOLDER, "run-running")

    # run.js polls progress.json, moves the bar, and reloads the page once the run has ended
    page.locator("#run-live[data-finished=true]").wait_for(state="attached", timeout=90_000)
    assert page.locator("#run-status").inner_text() == "完成", page.locator("#run-live").inner_text()
    polls = [r for r in live_server.requests if r == f"GET {run_path}/progress.json"]
    assert polls, live_server.requests[-10:]
    bar = page.locator("#run-progress")
    assert float(bar.get_attribute("value") or 0) == float(bar.get_attribute("max") or -1)
    summary = page.locator("#run-summary").inner_text()
    assert "已收斂" in summary and "cal-browser" in summary and "AIC / BIC" in summary
    assert page.locator("form[action$='/cancel']").count() == 0
    screenshot(page, FOLDER, "run-done", full_page=True)
    _no_scroll_at_1366(page, "run")
    assert_reflows_at_200_percent(page, FOLDER, "run-zh", full_page=True)

    page.goto(f"{live_server.url}{run_path}?lang=en")
    assert "converged in" in page.locator("#run-summary").inner_text()
    assert_reflows_at_200_percent(page, FOLDER, "run-en", full_page=True)
    page.goto(f"{live_server.url}/research/")
    row = page.locator("table.runs tbody tr").first
    assert "cal-browser" in row.inner_text() and "done" in row.inner_text()

    # an item page of the run's data: the new draft set with its SEs, at 1366 px and 200% zoom
    page.goto(f"{live_server.url}/items?lang=en")
    page.locator("table.items tbody a").first.click()
    page.wait_for_url("**/items/*")
    assert page.locator(".item-preview-body").count() == 2
    _no_scroll_at_1366(page, "item")
    assert_reflows_at_200_percent(page, FOLDER, "item-en", full_page=True)
    page.click("a.student-link >> nth=1")
    page.locator(".item-card").wait_for(state="visible")
    assert_reflows_at_200_percent(page, FOLDER, "item-student-en")
    assert not errors, errors
    context.close()
