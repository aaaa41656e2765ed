"""A run's stored item statistics in Debian's Chromium: from the run page to its parameter set, where the flagged
items are ticked with their reasons and one click queues the re-run; a flagged item's page shows its statistics
across two runs with a trend; no horizontal scroll at 1366 px and at 200% zoom. Screenshots: /tmp/player-shots/
item-statistics/."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.calibration_runs import RunRequest, execute_run, start_run
from assessment.db import make_session_factory
from assessment.models import CalibrationRun
from assessment.states import CalibrationStatus
from tests.assessment.test_item_analysis import DIF, DRIFTED, MISFIT, SECRET, analysed_census

from ..live import LiveServer
from .conftest import SHOTS, assert_reflows_at_200_percent, new_page, screenshot, sign_in

FOLDER = SHOTS / "item-statistics"


def _no_scroll(page: Any, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: {overflow}px of horizontal scrolling at 1366 px"


def test_flagged_items_are_ticked_and_the_item_page_shows_their_statistics(
        browser: Any, live_server: LiveServer, db: Session) -> None:
    analysed_census(db)
    run_id = start_run(db, RunRequest(window="114", name="cal-114-again"), actor="test").id
    db.commit()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    assert execute_run(factory, run_id, secret_key=SECRET) is CalibrationStatus.DONE
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    db.rollback()
    context, page, errors = new_page(browser, timeout=60_000)
    sign_in(page, live_server.url, "res", "research-pass")

    page.goto(f"{live_server.url}/research/runs/{run_id}")
    links = page.locator("nav.run-links")
    assert links.get_by_role("link", name="試題分析報告").count() == 1
    links.get_by_role("link", name="這次校準的參數組").click()
    page.wait_for_url("**/research/params/*")
    ticked = page.locator("#rerun-form input[name=exclude]:checked")
    assert sorted(ticked.evaluate_all("els => els.map(e => e.value)")) == sorted([MISFIT, DIF, DRIFTED])
    assert "Δb" in page.locator("#rerun-form label.flagged", has_text=DRIFTED).inner_text()
    assert "已勾選" in page.locator("#rerun-flags").inner_text()
    screenshot(page, FOLDER, "rerun-form", full_page=True)
    _no_scroll(page, "set")
    assert_reflows_at_200_percent(page, FOLDER, "set-zh", full_page=True)
    page.locator("#rerun-form input[name=name]").fill("cal-114-clean")
    page.locator("#rerun-form button[type=submit]").click()  # the one click: flagged items already ticked
    page.wait_for_load_state()
    db.rollback()
    rerun = db.scalar(select(CalibrationRun).where(CalibrationRun.name == "cal-114-clean"))
    assert rerun is not None and rerun.selection["exclude"] == sorted([MISFIT, DIF, DRIFTED])
    db.rollback()

    for lang in ("zh-TW", "en"):
        page.goto(f"{live_server.url}/items/{DIF}?lang={lang}")
        table = page.locator("#item-calibrations")
        assert table.locator("tbody tr").count() == 2 and table.locator("tr.flagged").count() == 2
        assert "C" in table.locator(f"tr[data-run='{run_id}']").inner_text()
        assert page.locator("#item-trend svg").is_visible()
        screenshot(page, FOLDER, f"item-{lang}", full_page=True)
        _no_scroll(page, f"item {lang}")
        assert_reflows_at_200_percent(page, FOLDER, f"item-{lang}", full_page=True)
    assert not errors, errors
    context.close()
