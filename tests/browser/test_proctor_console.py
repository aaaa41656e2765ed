"""The proctor console in a real browser (zh-TW): open a session, watch a student live, pause,
resume, extend, lock/unlock, a failed refresh that must show, and the student's submit.

Run: `pytest -m browser tests/browser` (needs Debian's chromium at /usr/bin/chromium).
Screenshots at 1366x768 (and at 200% zoom) go to /tmp/proctor-shots/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from ..live import seed_small_class
from .conftest import WIDE, ZOOM_200, LiveServer, assert_reflows_at_200_percent, new_page, screenshot, sign_in

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
POLL_WAIT = 15_000  # the view polls every 5 s
SHOTS = Path(os.environ.get("CTCENSUS_PROCTOR_SHOTS", "/tmp/proctor-shots"))


def shot(page: Any, name: str, full_page: bool = False) -> None:
    screenshot(page, SHOTS, name, full_page)


def no_horizontal_scroll(page: Any, name: str) -> None:
    assert_reflows_at_200_percent(page, SHOTS, name, full_page=True)


@pytest.fixture
def school(live_server: LiveServer) -> dict[str, Any]:
    """A grade-5 class of three, a form with every item type, an open window and a proctor of the school."""
    from assessment import accounts

    db = live_server.app.extensions["ctcensus"].sessions()
    try:
        klass, form = seed_small_class(db)
        accounts.create_user(db, "proc", "proctor-pass-1", "proctor", school_source_id="es-test")
        db.commit()
        return {"class_id": klass.id, "form_id": form.id}
    finally:
        db.close()


def row(page: Any, name: str) -> Any:
    return page.locator("#live-rows tr", has=page.locator("th.name", has_text=name))


def cell_text(page: Any, name: str, cls: str) -> str:
    return row(page, name).locator(f"td.{cls}").inner_text()


def wait_cell(page: Any, name: str, cls: str, pattern: str) -> str:
    """Wait (through the polling) until a cell of the student's row matches `pattern`."""
    page.wait_for_function(
        """([name, cls, pattern]) => [...document.querySelectorAll('#live-rows tr')].some(tr =>
             tr.querySelector('th.name')?.textContent === name
             && new RegExp(pattern).test(tr.querySelector('td.' + cls)?.textContent || ''))""",
        arg=[name, cls, pattern], timeout=POLL_WAIT)
    return cell_text(page, name, cls)


def seconds(clock: str) -> int:
    m = re.search(r"(\d+):(\d\d)", clock)
    assert m, clock
    return int(m.group(1)) * 60 + int(m.group(2))


def confirm(page: Any, ok: str) -> None:
    dialog = page.locator("dialog[open]")
    dialog.wait_for()
    dialog.get_by_role("button", name=ok).click()
    page.locator("dialog[open]").wait_for(state="detached")


def student_api(context: Any, base: str) -> Any:
    class Student:
        token = ""

        def call(self, method: str, path: str, body: Any = None) -> Any:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            return context.request.fetch(f"{base}/api/v1{path}", method=method, data=body, headers=headers)

        def login(self, ticket: str) -> Any:
            response = self.call("POST", "/login", {"ticket": ticket})
            assert response.status == 200, response.text()
            self.token = response.json()["token"]
            return response.json()

    return Student()


def test_proctor_watches_a_class_live(browser, live_server, school) -> None:  # type: ignore[no-untyped-def]
    from tests.assessment.factories import correct_response, starter_items

    items = {item.id: item for item in starter_items()}
    proctor, page, errors = new_page(browser, timeout=TIMEOUT, ignore=("409",))

    # --- log in, go to the console from the staff home ------------------------------------------
    sign_in(page, live_server.url, "proc", "proctor-pass-1")
    page.get_by_role("main").get_by_role("link", name="監考主控台").click()
    page.wait_for_selector("h1:has-text('監考主控台')")
    assert "目前沒有今天開啟或進行中的場次" in page.inner_text("main")
    assert page.get_by_label("作答時間（分鐘）").input_value() == "35"  # the form's limit
    assert page.get_by_label("題本").locator("option:checked").inner_text().startswith("E2E")
    shot(page, "01-console-empty")
    no_horizontal_scroll(page, "console-empty")

    # --- open a session for the class ----------------------------------------------------------
    page.get_by_role("button", name="開啟場次").click()
    page.wait_for_selector("h1:has-text('五年一班 即時監看')")
    assert "已為 五年一班 開啟場次，共 3 位學生" in page.inner_text("main")
    session_id = int(re.search(r"/proctor/sessions/(\d+)$", page.url).group(1))
    page.wait_for_selector("#updated:has-text('最後更新')")
    assert re.search(r"最後更新 \d\d:\d\d:\d\d", page.inner_text("#updated"))
    assert page.inner_text("#summary").startswith("共 3 人：未登入 3 · 已登入 0 · 作答中 0 · 已交卷 0")
    assert row(page, "王小明").locator(".badge.st-not_joined").inner_text() == "未登入"
    page.evaluate("window.__noReload = true")  # proves no page reload from here on
    shot(page, "02-live-not-joined")

    # --- the ticket sheet, from the page's link (a new tab) -----------------------------------------
    with page.expect_popup() as popup:
        page.get_by_role("link", name="列印登入代碼單（新分頁）").click()
    sheet = popup.value
    sheet.wait_for_selector(".ticket")
    card = sheet.locator("article.card", has_text="王小明")
    ticket = card.locator(".ticket").inner_text().strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", ticket), ticket
    shot(sheet, "03-tickets")
    sheet.close()
    tickets = {}
    db = live_server.app.extensions["ctcensus"].sessions()
    try:
        from assessment.sessions import ticket_sheet

        for r in ticket_sheet(db, session_id):
            tickets[r.name] = (r.ticket_display, r.attempt_id)
    finally:
        db.close()
    assert tickets["王小明"][0] == ticket

    # --- a student signs in (second browser context, the JSON API): joined ---------------------------
    student_context = browser.new_context()
    student = student_api(student_context, live_server.url)
    student.login(ticket)
    wait_cell(page, "王小明", "state", "已登入")
    assert "未開始" in cell_text(page, "王小明", "remaining")

    # --- starts and answers: in progress, the answered count rises without a reload -------------------
    assert student.call("POST", "/attempt/start").status == 200
    attempt = student.call("GET", "/attempt").json()
    order = [item["id"] for item in attempt["items"]]
    wait_cell(page, "王小明", "state", "作答中")
    for n, item_id in enumerate(order[:3], start=1):
        student.call("POST", "/attempt/heartbeat", {"current_item": item_id})
        saved = student.call("PUT", f"/attempt/answers/{item_id}", {"seq": 1, "response": correct_response(items[item_id])})
        assert saved.status == 200, saved.text()
        wait_cell(page, "王小明", "answered", rf"^{n}／6")
    assert wait_cell(page, "王小明", "item", "第 3 題") == "第 3 題"
    assert re.fullmatch(r"\d+ 秒前", cell_text(page, "王小明", "saved"))
    remaining = seconds(cell_text(page, "王小明", "remaining"))
    assert 33 * 60 < remaining <= 35 * 60
    assert page.evaluate("window.__noReload === true")
    assert "作答中 1" in page.inner_text("#summary")
    shot(page, "04-live-in-progress")
    no_horizontal_scroll(page, "live-in-progress")

    # --- pause (confirm dialog): the student's next save is refused 409 paused --------------------------
    page.get_by_role("button", name="暫停全班").click()
    assert "暫停全班？" in page.locator("dialog[open]").inner_text()
    shot(page, "05-confirm-pause")
    confirm(page, "暫停")
    page.wait_for_selector("#session-status:has-text('已暫停')")
    assert page.locator("#paused-banner").is_visible()
    page.wait_for_selector("#action-msg:has-text('已暫停全班')")  # announced a moment after the status
    refused = student.call("PUT", f"/attempt/answers/{order[3]}", {"seq": 1, "response": correct_response(items[order[3]])})
    assert (refused.status, refused.json()["error"]) == (409, "paused")
    wait_cell(page, "王小明", "remaining", "暫停")
    shot(page, "06-live-paused")

    # --- resume, with the keyboard only ------------------------------------------------------------
    resume = page.get_by_role("button", name="繼續作答")
    assert resume.evaluate("el => el === document.activeElement"), "focus moves to the button that replaced pause"
    page.keyboard.press("Enter")
    page.locator("dialog[open]").wait_for()
    page.keyboard.press("Enter")  # the dialog's default button is the confirmation
    page.wait_for_selector("#session-status:has-text('進行中')")
    assert page.locator("#paused-banner").is_hidden()
    assert student.call("PUT", f"/attempt/answers/{order[3]}",
                        {"seq": 1, "response": correct_response(items[order[3]])}).status == 200
    wait_cell(page, "王小明", "answered", r"^4／6")

    # --- extend +5 min for one student: the time left grows by five minutes ---------------------------------
    before = seconds(cell_text(page, "王小明", "remaining"))
    row(page, "王小明").get_by_role("button", name="王小明：延長 5 分鐘").click()
    assert "為 王小明 延長 5 分鐘？" in page.locator("dialog[open]").inner_text()
    confirm(page, "延長 5 分鐘")
    wait_cell(page, "王小明", "state", "已延長 5 分鐘")
    after = seconds(cell_text(page, "王小明", "remaining"))
    assert 5 * 60 - 15 <= after - before <= 5 * 60 + 2, (before, after)
    remaining_server = student.call("GET", "/attempt").json()["remaining_seconds"]
    assert abs(remaining_server - after) <= 10

    # --- lock and unlock another student -----------------------------------------------------------------
    other = student_api(browser.new_context(), live_server.url)
    other.login(tickets["林美美"][0])
    wait_cell(page, "林美美", "state", "已登入")
    row(page, "林美美").get_by_role("button", name="林美美：鎖定").click()
    confirm(page, "鎖定")
    wait_cell(page, "林美美", "state", "已鎖定")
    assert other.call("GET", "/attempt").status == 401  # token revoked
    assert other.call("POST", "/login", {"ticket": tickets["林美美"][0]}).status == 403
    shot(page, "07-live-locked")
    row(page, "林美美").get_by_role("button", name="林美美：解鎖").click()
    wait_cell(page, "林美美", "state", "已登入")
    other.login(tickets["林美美"][0])  # may sign in again

    # --- a failed refresh is never silent ------------------------------------------------------------------
    status_url = re.compile(rf".*/proctor/api/sessions/{session_id}/status.*")
    page.route(status_url, lambda route: route.abort())
    page.wait_for_selector("#stale:not([hidden])", timeout=POLL_WAIT)
    warning = page.inner_text("#stale")
    assert "無法更新即時狀態" in warning and "網路或伺服器沒有回應" in warning and re.search(r"\d\d:\d\d:\d\d", warning)
    assert page.locator("#live-table.stale").count() == 1
    shot(page, "08-live-stale")
    page.unroute(status_url)
    page.get_by_role("button", name="立即更新").click()
    page.wait_for_selector("#stale", state="hidden", timeout=POLL_WAIT)

    # --- the student submits: shown as submitted, without a reload --------------------------------------------
    assert student.call("POST", "/attempt/submit").status == 200
    wait_cell(page, "王小明", "state", "已交卷")
    assert row(page, "王小明").get_by_role("button", name="王小明：延長 5 分鐘").is_disabled()
    assert "已交卷 1" in page.inner_text("#summary")
    assert page.evaluate("window.__noReload === true")
    shot(page, "09-live-submitted")
    no_horizontal_scroll(page, "live-submitted")

    # --- the console lists the session with its counts -------------------------------------------------------
    page.goto(f"{live_server.url}/proctor")
    listed = page.locator("table.sessions tbody tr").first
    assert "五年一班" in listed.inner_text() and "進行中" in listed.inner_text()
    assert listed.locator("td.num").all_inner_texts() == ["3", "2", "0", "1"]
    shot(page, "10-console-listed")
    no_horizontal_scroll(page, "console-listed")

    # --- close the session from the live view ----------------------------------------------------------------
    page.get_by_role("link", name=f"即時監看 五年一班（場次 {session_id}）").click()
    page.get_by_role("button", name="結束場次").click()
    dialog = page.locator("dialog[open]")
    assert "結束這個場次？" in dialog.inner_text()
    assert dialog.get_by_role("button", name="取消").evaluate("el => el === document.activeElement")
    confirm(page, "結束場次")
    page.wait_for_selector("#session-status:has-text('已結束')")
    assert page.locator("#closed-banner").is_visible()
    wait_cell(page, "林美美", "remaining", "^—$")  # no clock in a closed session
    # a closed session takes no more actions
    page.wait_for_function("() => [...document.querySelectorAll('#live-rows button')].every(b => b.disabled)",
                           timeout=POLL_WAIT)
    shot(page, "11-live-closed", full_page=True)
    assert not errors, f"script errors in the page: {errors}"
    for ctx in (proctor, student_context):
        ctx.close()


def test_english_console_at_200_percent(browser, live_server, school) -> None:  # type: ignore[no-untyped-def]
    """The console and live view in English, read at 200% zoom."""
    context = browser.new_context(viewport=ZOOM_200, locale="en-GB")
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/login?lang=en")
    page.get_by_label("Username").fill("proc")
    page.get_by_label("Password").fill("proctor-pass-1")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/proctor")
    page.get_by_label("Time limit (minutes)").fill("0")
    page.get_by_role("button", name="Open the session").click()
    page.wait_for_selector("#form-error")
    assert "Enter a time limit of 1 to 240 whole minutes" in page.inner_text("#form-error")
    assert page.evaluate("document.activeElement.id") == "form-error"
    shot(page, "20-en-bad-input-zoom200")
    page.get_by_label("Time limit (minutes)").fill("40")
    page.get_by_role("button", name="Open the session").click()
    page.wait_for_selector("h1:has-text('live view')")
    page.wait_for_selector("#updated:has-text('Last updated')")
    assert "3 students: not joined 3" in page.inner_text("#summary")
    assert "40:00 (not started)" in page.locator("#live-rows tr").first.locator("td.remaining").inner_text()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    shot(page, "21-en-live-zoom200", full_page=True)
    page.set_viewport_size(WIDE)
    shot(page, "22-en-live")
    assert overflow <= 0, f"{overflow}px of horizontal scrolling at 200% zoom"
    assert not errors, errors
    context.close()
