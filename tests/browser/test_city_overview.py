"""The city test-day overview in a real browser (zh-TW) during a small wave.

A few classes are in session. The bureau keeps the overview open while students sign in,
start, answer and submit through the API. The page shows the new counts without a reload
(signed in → in progress → submitted). A class without a session is listed as not yet
tested. A dropped network shows a banner that clears itself, and a hidden tab stops polling.

Run: `pytest -m browser tests/browser/test_city_overview.py` (needs Debian's chromium at /usr/bin/chromium).
Screenshots at 1366x768 (and at 200% zoom) go to /tmp/overview-shots/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from ..live import seed_small_class
from .conftest import LiveServer, assert_reflows_at_200_percent, new_page, screenshot, sign_in
from .test_proctor_console import student_api

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
POLL_WAIT = 15_000  # the page polls every 2 s (±20%) here, 12 s in production
SHOTS = Path(os.environ.get("CTCENSUS_OVERVIEW_SHOTS", "/tmp/overview-shots"))
API = "/overview/api/schools/es-test"


@pytest.fixture
def wave(live_server: LiveServer) -> dict[str, Any]:
    """Three classes in session (two at es-test, one at es-test2 in another district), one class without a
    session, and a bureau login; the overview polls every 2 s, recomputes at most every 0.5 s and calls a
    student offline after 3 s without a request."""
    from assessment import accounts, sessions
    from assessment.models import District, School, SchoolClass, Student

    live_server.app.config.update(OVERVIEW_REFRESH_SECONDS=2, OVERVIEW_CACHE_SECONDS=0.5,
                                  # quiet for 3 s is offline here (90 s in production), 2 students are many
                                  OVERVIEW_THRESHOLDS={"offline_after_seconds": 3, "many_students": 2})
    db = live_server.app.extensions["ctcensus"].sessions()
    try:
        klass, form = seed_small_class(db)
        school = klass.school
        other = School(source_id="es-test2", district=District(source_id="kl-test2", name_zh="七堵區",
                                                               name_en="Qidu"),
                       name_zh="測試二國小", name_en="Test Two Elementary", level="elementary")
        classes = {"五年二班": SchoolClass(source_id="es-test-502", school=school, grade=5, name="五年二班"),
                   "五年三班": SchoolClass(source_id="es-test-503", school=school, grade=5, name="五年三班"),
                   "七堵五年一班": SchoolClass(source_id="es-test2-501", school=other, grade=5, name="五年一班")}
        db.add_all([other, *classes.values()])
        for k, c in enumerate(classes.values()):
            for seat in (1, 2):
                db.add(Student(source_id=f"{c.source_id}-s{seat}", school_class=c, family_name="李",
                               given_name=f"同學{k}{seat}", seat_number=seat, gender=""))
        db.flush()
        tickets: dict[str, list[str]] = {}
        for name, class_id in (("五年一班", klass.id), ("五年二班", classes["五年二班"].id),
                               ("七堵五年一班", classes["七堵五年一班"].id)):
            test_session = sessions.create_session(db, class_id=class_id, form_id=form.id, minutes=35,
                                                   window_code="113-test", actor="test")
            db.flush()
            tickets[name] = [r.ticket for r in sessions.ticket_sheet(db, test_session.id)]
        accounts.create_user(db, "bureau1", "bureau-pass-1", "bureau")
        db.commit()
        return {"tickets": tickets}
    finally:
        db.close()


def cell(page: Any, table: str, row: str, column: str) -> str:
    return page.locator(f"tbody[data-rows='{table}'] tr", has=page.locator("th", has_text=row)) \
        .locator(f"td[data-label='{column}']").inner_text().strip()


def wait_cell(page: Any, table: str, row: str, column: str, expected: str) -> None:
    """Wait (through the page's own polling, no reload) until a cell shows `expected`."""
    page.wait_for_function(
        """([table, row, column, expected]) => [...document.querySelectorAll(`tbody[data-rows="${table}"] tr`)]
             .some(tr => tr.querySelector('th')?.textContent.trim() === row
                   && tr.querySelector(`td[data-label="${column}"]`)?.textContent.trim() === expected)""",
        arg=[table, row, column, expected], timeout=POLL_WAIT)


def wait_untested(page: Any, names: list[str]) -> None:
    """Wait until the school's classes not yet tested are exactly `names`."""
    page.wait_for_function(
        """(names) => JSON.stringify([...document.querySelectorAll('tbody[data-rows="untested"] th')]
                                    .map(th => th.textContent.trim())) === JSON.stringify(names)""",
        arg=names, timeout=POLL_WAIT)


def polls(live_server: LiveServer) -> int:
    return sum(1 for line in live_server.requests if line == f"GET {API}")


def test_the_bureau_watches_a_wave_live(browser, live_server, wave) -> None:  # type: ignore[no-untyped-def]
    from tests.assessment.factories import correct_response, starter_items

    items = {item.id: item for item in starter_items()}
    context, page, errors = new_page(browser, timeout=TIMEOUT)

    # --- sign in, the overview from the nav ------------------------------------------------------
    sign_in(page, live_server.url, "bureau1", "bureau-pass-1")
    page.get_by_role("banner").get_by_role("link", name="全市施測概況").click()
    page.wait_for_selector("h1:has-text('全市施測概況')")
    summary = page.locator(".summary-grid")
    assert summary.locator("[data-sum='students']").inner_text() == "7"
    assert summary.locator("[data-sum='untested']").inner_text() == "4"  # nobody started anywhere yet
    assert cell(page, "districts", "中正區", "學生") == "5" and cell(page, "districts", "七堵區", "學生") == "2"
    assert cell(page, "untested", "測試國小", "班級") == "五年一班（已開場次）、五年二班（已開場次）、五年三班"
    page.wait_for_selector("#updated:has-text('最後更新')")  # the script runs and has polled
    screenshot(page, SHOTS, "01-city-before", full_page=True)

    # --- drill down: district, then school -----------------------------------------------------------
    page.get_by_role("link", name="中正區").click()
    page.wait_for_selector("h1:has-text('中正區 施測概況')")
    page.get_by_role("table", name="各校的學生作答情形").get_by_role("link", name="測試國小").click()
    page.wait_for_selector("h1:has-text('測試國小 施測概況')")
    assert cell(page, "sessions", "五年一班", "場次狀態") == "等待開始"
    assert cell(page, "untested", "五年三班", "情形") == "尚無場次"
    assert cell(page, "untested", "五年二班", "情形") == "已開場次，尚無學生開始"
    page.evaluate("window.__noReload = true")  # proves no page reload from here on

    # --- the wave: sign in, start, answer, submit; the page follows by itself --------------------------
    class1 = [student_api(context, live_server.url) for _ in wave["tickets"]["五年一班"]]
    class1[0].login(wave["tickets"]["五年一班"][0])
    wait_cell(page, "sessions", "五年一班", "已登入未開始", "1")
    assert cell(page, "sessions", "五年一班", "未登入") == "2"

    assert class1[0].call("POST", "/attempt/start").status == 200
    wait_cell(page, "sessions", "五年一班", "作答中", "1")
    assert cell(page, "sessions", "五年一班", "已登入未開始") == "0"
    assert cell(page, "sessions", "五年一班", "場次狀態") == "進行中"
    wait_untested(page, ["五年二班", "五年三班"])  # 五年一班 is being tested now

    for k, student in enumerate(class1[1:], start=1):
        student.login(wave["tickets"]["五年一班"][k])
        assert student.call("POST", "/attempt/start").status == 200
        item_id = student.call("GET", "/attempt").json()["items"][0]["id"]
        saved = student.call("PUT", f"/attempt/answers/{item_id}", {"seq": 1, "response": correct_response(items[item_id])})
        assert saved.status == 200, saved.text()
    wait_cell(page, "sessions", "五年一班", "作答中", "3")
    screenshot(page, SHOTS, "02-school-in-progress", full_page=True)

    assert class1[0].call("POST", "/attempt/submit").status == 200
    wait_cell(page, "sessions", "五年一班", "已交卷", "1")
    assert cell(page, "sessions", "五年一班", "作答中") == "2"
    assert cell(page, "sessions", "五年一班", "完成率") == "33%"
    assert page.locator("[data-sum='submitted']").inner_text() == "1"
    assert page.evaluate("window.__noReload") is True
    assert re.search(r"最後更新 \d\d:\d\d:\d\d", page.inner_text("#updated"))

    # --- a dropped network shows, and clears by itself ---------------------------------------------------
    live_server.outage.set()
    page.wait_for_selector("#stale:has-text('資料可能已過時（無法連線到伺服器）')", timeout=POLL_WAIT)
    live_server.outage.clear()
    page.wait_for_selector("#stale", state="hidden", timeout=POLL_WAIT)  # the backoff retried: 4 s, then 8 s

    # --- a hidden tab does not poll; shown again, it asks at once ------------------------------------------
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
                             document.dispatchEvent(new Event('visibilitychange')); }""")
    before = polls(live_server)
    page.wait_for_timeout(5000)
    assert polls(live_server) - before <= 1  # at most a request already on its way
    class2 = student_api(context, live_server.url)
    class2.login(wave["tickets"]["五年二班"][0])
    assert class2.call("POST", "/attempt/start").status == 200
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
                             document.dispatchEvent(new Event('visibilitychange')); }""")
    wait_cell(page, "sessions", "五年二班", "作答中", "1")
    wait_untested(page, ["五年三班"])
    assert page.evaluate("window.__noReload") is True
    screenshot(page, SHOTS, "03-school-live")
    assert_reflows_at_200_percent(page, SHOTS, "school", full_page=True)

    # --- back to the city: the district's counts and the class still not tested ----------------------------
    page.get_by_role("navigation", name="頁面路徑").get_by_role("link", name="全市", exact=True).click()
    page.wait_for_selector("h1:has-text('全市施測概況')")
    assert cell(page, "districts", "中正區", "作答中") == "3"
    assert cell(page, "districts", "中正區", "已交卷") == "1"
    assert cell(page, "districts", "中正區", "尚未施測班級") == "1"
    assert cell(page, "untested", "測試國小", "班級") == "五年三班"
    assert cell(page, "untested", "測試二國小", "班級") == "五年一班（已開場次）"
    assert cell(page, "districts", "七堵區", "未登入") == "2"
    # 五年一班's two writers have sent nothing for more than 3 s (their player would send a heartbeat every 30 s)
    page.wait_for_selector("tbody[data-rows='problems'] tr[data-key]", timeout=POLL_WAIT)
    assert cell(page, "problems", "測試國小", "狀況") == "⚠ 離線 2/2 人"
    assert cell(page, "problems", "測試國小", "班級") == "五年一班"
    assert cell(page, "districts", "中正區", "狀況") == "⚠ 1 校"
    assert page.locator(".sum.warn [data-sum='problem_schools']").inner_text() == "1"
    screenshot(page, SHOTS, "04-city-during", full_page=True)
    assert_reflows_at_200_percent(page, SHOTS, "city", full_page=True)

    # --- printed: no navigation or refresh controls, the data time and every table stay ---------------------
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible() and not page.locator("#btn-refresh").is_visible()
    assert page.locator("#as-of").is_visible() and page.locator("table[data-table='untested']").is_visible()
    screenshot(page, SHOTS, "05-city-print", full_page=True)
    page.emulate_media(media="screen")
    assert not errors, errors
    context.close()
