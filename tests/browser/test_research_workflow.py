"""Issue 11's researcher flow in Debian's Chromium, end to end, with a real `ctcensus worker` process taking the
jobs: a researcher watches a long run's progress bar advance and cancels it; starts a calibration run from the
workbench's form and watches it to done; follows the run's link to the item-analysis report and reads it (summary,
item table, flags, an item's curves); follows the link to the run's draft parameter set, publishes it for the
window (the page and the database both show the window's new set) and withdraws it again; in zh-TW, then one pass
of the key pages in English. Every page is checked for horizontal scroll at 1366 px and at 200% zoom, for message
keys shown raw and, in English, for the page's own words in Chinese; the whole flow for console errors (the strict
CSP reports there). Screenshots go to /tmp/player-shots/workflow/."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.calibration_runs import RunRequest, start_run
from assessment.jobs import enqueue_calibration
from assessment.models import AuditEntry, ItemRecord, ParameterSet, TestWindow
from item_bank import ItemStatus
from tests.assessment.test_calibration_runs import simulate_known_census
from tests.webapp.test_cli_calibrate_runs import worker  # noqa: F401  (fixture: a real `ctcensus worker` process)

from ..live import LiveServer
from .conftest import SHOTS, assert_reflows_at_200_percent, new_page, screenshot, sign_in

FOLDER = SHOTS / "workflow"
PAGE_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
NAME = "cal-flow"
# a message key shown as itself (gettext's fallback when the catalogue lacks it), e.g. "research.link.params"
RAW_KEY = re.compile(r"\b(?:research|params|analysis|nav|type|audit|items?|design)\.[a-z_]+(?:\.[a-z_]+)*\b")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
# the page's own words in English (data such as the window's name or an item's title may be Chinese)
CHROME = "h1, h2, h3, th[scope=col], dt, caption, legend, button, .breadcrumbs, .run-links, .subnav, p.flash"


def _check_page(page: Any, name: str) -> None:
    """No horizontal page scroll at 1366 px nor at 200% zoom; no message key shown raw; in English, none of the
    page's own words in Chinese."""
    assert page.evaluate(PAGE_OVERFLOW) <= 0, f"{name}: horizontal scrolling at 1366 px"
    screenshot(page, FOLDER, name, full_page=True)
    assert_reflows_at_200_percent(page, FOLDER, name, full_page=True)
    raw = RAW_KEY.search(page.locator("main").inner_text())
    assert raw is None, f"{name}: untranslated message key {raw.group(0)!r}"
    if page.locator("html").get_attribute("lang") == "en":
        chinese = [t for t in page.locator(f"main :is({CHROME})").all_inner_texts() if CJK.search(t)]
        assert not chinese, f"{name}: Chinese on the English page: {chinese[:5]}"


def _window_set(db: Session) -> int | None:
    set_id = db.scalar(select(TestWindow.parameter_set_id).where(TestWindow.code == "113"))
    db.rollback()  # SQLite: no read transaction may stay open while the app or the worker writes
    return set_id


def _statuses(db: Session, item_ids: list[str]) -> set[ItemStatus]:
    statuses = set(db.scalars(select(ItemRecord.status).where(ItemRecord.item_id.in_(item_ids))))
    db.rollback()
    return statuses


SAMPLE = """() => {
    const bar = document.getElementById('run-progress');
    const status = document.getElementById('run-status');
    const live = document.getElementById('run-live');
    return bar && status && live ? [status.className.replace('run-status', '').trim(), bar.value, bar.max,
                                    live.dataset.finished === 'true'] : null;
}"""


def _watch(page: Any, until: Any, timeout: float = 60) -> list[tuple[str, float, float, bool]]:
    """(status, bar value, bar max, finished) as the page shows them, every 100 ms until `until(samples)`."""
    samples: list[tuple[str, float, float, bool]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sample = page.evaluate(SAMPLE)
        except Exception:  # the page is reloading (run.js, once the run has ended)
            sample = None
        if sample is not None:
            samples.append((sample[0], float(sample[1]), float(sample[2]), bool(sample[3])))
            if until(samples):
                return samples
        page.wait_for_timeout(100)
    raise AssertionError(f"the page did not get there in {timeout} s: {samples[-5:]}")


def _advanced(samples: list[tuple[str, float, float, bool]]) -> bool:
    """The bar has moved twice while running: 0 < v1 < v2 < max."""
    values = sorted({v for s, v, m, _ in samples if s == "running" and 0 < v < m})
    return len(values) >= 2


def _long_run(db: Session, live_server: LiveServer) -> int:
    """A run that goes on for long (tol never reached), queued as `ctcensus calibrate --no-wait --tol 1e-300` does."""
    run_id = start_run(db, RunRequest(window="113", name="cal-long", tol=1e-300, max_iter=20_000), "res").id
    db.commit()
    enqueue_calibration(live_server.app.extensions["ctcensus"].settings, run_id)
    db.rollback()
    return run_id


@pytest.mark.usefixtures("worker")
def test_a_researcher_runs_reads_publishes_and_withdraws_a_calibration(
        browser: Any, live_server: LiveServer, db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=600)
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    db.rollback()
    window_set_before = _window_set(db)
    context, page, errors = new_page(browser, timeout=60_000)
    base = live_server.url

    sign_in(page, base, "res", "research-pass")
    # a long run's bar advances as the worker iterates (an ordinary run here ends within run.js's first poll);
    # the researcher cancels it on its page
    long_id = _long_run(db, live_server)
    page.goto(f"{base}/research/runs/{long_id}")
    samples = _watch(page, _advanced)
    assert [v for _, v, _, _ in samples] == sorted(v for _, v, _, _ in samples), samples  # never moves back
    assert re.fullmatch(r"校準中：EM 第 \d+ 次疊代（最多 20000 次） · .+", page.locator("#run-progress-text")
                        .inner_text()), page.locator("#run-progress-text").inner_text()
    _check_page(page, "run-running-zh")
    page.get_by_role("button", name="取消這次校準").click()
    page.locator("#run-live[data-finished=true]").wait_for(state="attached")
    assert page.locator("#run-status").inner_text() == "已取消"
    assert page.locator(".run-links").count() == 0  # no report, no set: a cancelled run stores nothing

    # (1) start a run from the workbench's form
    page.click("header nav >> text=研究工作台")
    page.wait_for_url("**/research/")
    _check_page(page, "workbench-zh")
    page.get_by_label("參數組名稱").fill(NAME)
    page.get_by_label("施測期").select_option("113")
    page.get_by_role("button", name="開始校準").click()
    page.wait_for_url("**/research/runs/*")
    run_path = page.url.split(base, 1)[1]
    run_id = int(run_path.rsplit("/", 1)[1])

    # (2) the page is drawn before the worker ends the run; run.js moves the bar to full and the status to done
    samples = _watch(page, lambda samples: samples[-1][3])
    assert samples[0][0] in ("queued", "running") and samples[0][1] < samples[0][2], samples
    assert [v for _, v, _, _ in samples] == sorted(v for _, v, _, _ in samples), samples
    # drawn unfinished, polled, then reloaded by run.js once done (not by the test)
    assert live_server.requests.count(f"GET {run_path}") == 2
    assert f"GET {run_path}/progress.json" in live_server.requests
    page.locator("#run-live[data-finished=true]").wait_for(state="attached")
    assert page.locator("#run-status").inner_text() == "完成"
    bar = page.locator("#run-progress")
    assert float(bar.get_attribute("value") or 0) == float(bar.get_attribute("max") or -1)
    summary = page.locator("#run-summary").inner_text()
    assert "已收斂" in summary and NAME in summary
    n_items = int(re.search(r"(\d+) 題（", summary).group(1))  # type: ignore[union-attr]
    _check_page(page, "run-zh")

    # (3) the run's link to its item-analysis report; the summary, the item table, the flags, an item's curves
    page.locator(".run-links").get_by_role("link", name="試題分析報告").click()
    page.wait_for_url(f"**{run_path}/analysis")
    assert page.locator("h1").inner_text() == f"試題分析：校準 #{run_id}：{NAME}"
    facts = page.locator("#summary-h + dl.facts").inner_text()
    assert "113" in facts and "1200" in facts.replace(",", "")
    assert page.locator("table.analysis tbody tr").count() == n_items > 0  # one row per item of the run
    flags = page.locator("section[aria-labelledby=flags-h]")
    n_flagged = page.locator("table.analysis tbody tr.flagged").count()
    assert flags.locator("h2").inner_text() == f"需要檢視的試題（{n_flagged} 題）"
    if n_flagged:
        assert flags.locator("ul.flag-list li").count() == n_flagged
    else:
        assert "沒有試題被標示。" in flags.inner_text()
    first = page.locator("details.item").first
    first.locator("summary").click()
    assert first.locator("svg.chart-curves").count() == 2 and first.locator("svg").first.is_visible()
    _check_page(page, "analysis-zh")

    # (4) the draft parameter set, published for the window with the page's button
    page.locator(".breadcrumbs").get_by_role("link", name=f"校準 #{run_id}：{NAME}").click()
    page.wait_for_url(f"**{run_path}")
    page.locator(".run-links").get_by_role("link", name="這次校準的參數組").click()
    page.wait_for_url("**/research/params/*")
    set_path = page.url.split(base, 1)[1]
    set_id = int(set_path.rsplit("/", 1)[1])
    assert page.locator("h1").inner_text() == f"參數組 {NAME}"
    assert "草稿" in page.locator("dl.facts").inner_text()
    _check_page(page, "set-draft-zh")
    page.get_by_label("施測期（目前使用的參數組）").select_option("113")
    page.get_by_role("button", name="發布", exact=True).click()
    page.wait_for_url(f"**{set_path}")
    assert page.locator("p.flash").inner_text().startswith("已發布為施測期 113 的正式參數")
    assert "已發布：施測期 113" in page.locator("dl.facts").inner_text()
    assert f"({NAME})" in page.get_by_label("施測期（目前使用的參數組）").inner_text()
    assert _window_set(db) == set_id != window_set_before
    published = db.scalar(select(AuditEntry).where(AuditEntry.action == "params.publish"))
    assert published is not None and published.actor == "res" and published.detail["parameter_set"] == NAME
    moved = published.detail["moved_to_operational"]  # pilot items of the set, now operational
    assert not moved or _statuses(db, moved) == {ItemStatus.OPERATIONAL}
    assert db.scalar(select(ParameterSet.published).where(ParameterSet.id == set_id)) is True
    db.rollback()
    _check_page(page, "set-published-zh")
    page.goto(base + run_path)  # the run's summary says where its set is published now
    assert f"{NAME} (已發布：施測期 113)" in page.locator("#run-summary").inner_text()
    assert page.locator("#run-progress-text").inner_text().startswith("完成：EM 第")
    page.locator(".run-links").get_by_role("link", name="這次校準的參數組").click()
    page.wait_for_url(f"**{set_path}")

    # (5) withdrawn again: the window has its set from before
    page.get_by_role("button", name="撤回施測期 113 的發布").click()
    page.wait_for_url("**/research/params")
    assert page.locator("p.flash").inner_text().startswith("已撤回；施測期 113 改用")
    row = page.locator("table.params tbody tr", has=page.get_by_role("link", name=NAME, exact=True))
    assert "草稿" in row.inner_text()
    assert _window_set(db) == window_set_before
    withdrawn = db.scalar(select(AuditEntry).where(AuditEntry.action == "params.unpublish"))
    assert withdrawn is not None and withdrawn.actor == "res" and withdrawn.detail["parameter_set"] == NAME
    assert not moved or _statuses(db, moved) == {ItemStatus.PILOT}  # the items it moved are pilots again
    db.rollback()
    _check_page(page, "params-zh")

    # one pass of the key pages in English, by the same links
    for name, path in (("workbench-en", "/research/?lang=en"), ("run-en", run_path), ("analysis-en", None),
                       ("set-en", set_path), ("params-en", "/research/params")):
        if path is None:
            page.locator(".run-links").get_by_role("link", name="Item analysis report").click()
            page.wait_for_url(f"**{run_path}/analysis")
        else:
            page.goto(base + path)
        assert page.locator("html").get_attribute("lang") == "en", name
        if name == "run-en":
            assert page.locator("#run-progress-text").inner_text().startswith("done: EM iteration")
            assert f"{NAME} (draft, not published)" in page.locator("#run-summary").inner_text()
        _check_page(page, name)
    assert not errors, errors
    context.close()
