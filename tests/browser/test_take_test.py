"""A whole test in a real browser (zh-TW): every item type, an outage with a reload, submit.

Run: `pytest -m browser tests/browser` (needs Debian's chromium at /usr/bin/chromium).
Screenshots at 1366x768 (and at 200% zoom) go to /tmp/player-shots/.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from .conftest import FORM_ITEMS, SHOTS, WIDE, LiveServer, assert_reflows_at_200_percent, screenshot

pytestmark = pytest.mark.browser

TIMEOUT = 20_000


def shot(page: Any, name: str) -> None:
    screenshot(page, SHOTS, name)


def no_horizontal_scroll(page: Any, name: str) -> None:
    assert_reflows_at_200_percent(page, SHOTS, name)


def save_state(page: Any) -> Any:
    return page.locator("[data-save-state]")


def wait_saved(page: Any) -> None:
    page.wait_for_function(
        "() => { const el = document.querySelector('[data-save-state]'); return el && el.classList.contains('st-saved'); }",
        timeout=TIMEOUT)
    assert "已儲存" in save_state(page).inner_text()


def heading(page: Any) -> str:
    return page.locator("#screen h1").inner_text()


def go_item(page: Any, n: int, total: int) -> None:
    page.wait_for_function(
        f"() => (document.querySelector('#screen h1') || {{}}).textContent?.startsWith('第 {n} 題')", timeout=TIMEOUT)
    assert heading(page).startswith(f"第 {n} 題／共 {total} 題")


def next_item(page: Any) -> None:
    page.get_by_role("button", name="下一題 →").click()


def server_answers(app: Any, attempt_id: int) -> dict[str, tuple[int, Any]]:
    from assessment.models import Answer, ItemRecord

    db = app.extensions["ctcensus"].sessions()
    try:
        rows = db.execute(select(ItemRecord.item_id, Answer.seq, Answer.response)
                          .join(Answer, Answer.item_pk == ItemRecord.pk)
                          .where(Answer.attempt_id == attempt_id)).all()
        return {item_id: (seq, response) for item_id, seq, response in rows}
    finally:
        db.close()


def attempt_status(app: Any, attempt_id: int) -> str:
    from assessment.models import Attempt

    db = app.extensions["ctcensus"].sessions()
    try:
        return db.get(Attempt, attempt_id).status
    finally:
        db.close()


def attempt_clock(app: Any, attempt_id: int) -> tuple[str, Any, Any]:
    """(status, started_at, deadline_at) as the server holds them."""
    from assessment.models import Attempt

    db = app.extensions["ctcensus"].sessions()
    try:
        a = db.get(Attempt, attempt_id)
        return a.status, a.started_at, a.deadline_at
    finally:
        db.close()


def go_offline(context: Any, page: Any, server: LiveServer) -> None:
    """Cut the network: the server drops every connection, and the browser reports itself offline.

    Chromium's offline emulation alone leaked a request now and then (a page controlled by the
    Service Worker sends some past it), so the outage is made certain at the server; a probe
    makes sure a request really fails first.
    """
    server.outage.set()
    context.set_offline(True)
    probe = """async () => {
        try { await fetch('/api/v1/openapi.json', {cache: 'no-store'}); return false; } catch (e) { return true; }
    }"""
    for _ in range(100):
        if page.evaluate(probe):
            return
        page.wait_for_timeout(50)
    raise AssertionError("the simulated outage never blocked a request")


def go_online(context: Any, server: LiveServer) -> None:
    server.outage.clear()
    context.set_offline(False)


def start_requests(server: Any) -> int:
    return sum(1 for r in server.requests if r == "POST /api/v1/attempt/start")


def test_take_whole_test_offline_reload_and_submit(browser, live_server, demo_test) -> None:  # type: ignore[no-untyped-def]
    row = demo_test.rows[0]
    total = len(FORM_ITEMS)
    context = browser.new_context(viewport=WIDE, locale="zh-TW", service_workers="allow")
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    expected: dict[str, Any] = {}

    # --- login: the ticket as printed, typed in lower case ------------------------------------
    page.goto(f"{live_server.url}/take")
    assert page.locator("html").get_attribute("lang") == "zh-TW"
    page.wait_for_selector("html[data-offline-ready='1']")  # the Service Worker holds the shell
    page.get_by_label("登入代碼").fill(row.ticket_display.lower())
    shot(page, "01-login")
    no_horizontal_scroll(page, "login")
    page.get_by_role("button", name="下一步").click()

    # --- is this you? ----------------------------------------------------------------------
    page.wait_for_selector("text=是你嗎？")
    assert page.locator(".student-name").inner_text() == row.name
    assert row.class_name in page.locator(".student-class").inner_text()
    shot(page, "02-confirm")
    page.get_by_role("button", name="是，我是").click()

    # --- instructions and the practice item (never sent): no clock runs yet -----------------------------
    page.wait_for_selector("text=作答說明")
    page.locator(".practice label.choice").nth(1).click()
    assert "答對了" in page.locator(".practice-feedback").inner_text()
    assert "按下「開始作答」後才開始計時" in page.locator("#screen").inner_text()
    assert page.locator("#clock").is_hidden()
    assert attempt_clock(live_server.app, row.attempt_id) == ("not_started", None, None)
    assert start_requests(live_server) == 0
    shot(page, "03-intro")
    no_horizontal_scroll(page, "intro")
    page.get_by_role("button", name="開始作答").click()

    # --- 1 single choice: the server started the clock, and the countdown shows ---------------------
    go_item(page, 1, total)
    status, started_at, deadline_at = attempt_clock(live_server.app, row.attempt_id)
    assert status == "in_progress" and (deadline_at - started_at).total_seconds() == 35 * 60
    assert start_requests(live_server) == 1
    # sign-in and start answer with the attempt document: the arrival is two requests, no GET /attempt
    arrival = [r for r in live_server.requests if r.startswith(("GET /api/", "POST /api/", "PUT /api/"))]
    assert arrival[:2] == ["POST /api/v1/login", "POST /api/v1/attempt/start"], arrival[:4]
    assert "GET /api/v1/attempt" not in arrival, arrival
    page.wait_for_selector("#clock:not([hidden])")
    clock = re.search(r"剩下 (\d+):(\d\d)", page.locator("#clock").inner_text())
    assert clock and 34 <= int(clock.group(1)) <= 35, page.locator("#clock").inner_text()
    radios = page.locator("input[type=radio]")
    choice = radios.nth(1).get_attribute("value")
    page.locator("label.choice").nth(1).click()
    expected[FORM_ITEMS["single_choice"]] = {"choice": choice}
    wait_saved(page)
    shot(page, "10-single-choice")
    no_horizontal_scroll(page, "single-choice")

    # flag it for review, then come back to it via the overview
    page.get_by_role("button", name="標記").click()
    assert page.get_by_role("button", name="取消標記").get_attribute("aria-pressed") == "true"
    next_item(page)

    # --- 2 multiple response ---------------------------------------------------------------------
    go_item(page, 2, total)
    boxes = page.locator("input[type=checkbox]")
    picked = [boxes.nth(0).get_attribute("value"), boxes.nth(2).get_attribute("value")]
    boxes.nth(0).check()
    boxes.nth(2).focus()
    page.keyboard.press("Space")  # keyboard operable
    expected[FORM_ITEMS["multiple_response"]] = {"choices": sorted(picked)}  # stored in the item's option order
    wait_saved(page)
    shot(page, "11-multiple-response")
    no_horizontal_scroll(page, "multiple-response")
    next_item(page)

    # --- 3 ordering: keyboard on the move buttons -------------------------------------------------------
    go_item(page, 3, total)
    order = page.eval_on_selector_all(".order-row", "rows => rows.map(r => r.dataset.id)")
    page.locator(".order-row").nth(0).locator("button.down").focus()
    page.keyboard.press("Enter")          # first goes to second place; focus follows it
    page.keyboard.press("Enter")          # and on to third
    order.insert(2, order.pop(0))
    page.locator(".order-row").nth(len(order) - 1).locator("button.up").click()
    last = order.pop()
    order.insert(len(order) - 1, last)
    assert page.eval_on_selector_all(".order-row", "rows => rows.map(r => r.dataset.id)") == order
    expected[FORM_ITEMS["ordering"]] = {"order": order}
    wait_saved(page)
    shot(page, "12-ordering")
    no_horizontal_scroll(page, "ordering")
    next_item(page)

    # --- the network drops ------------------------------------------------------------------------
    go_item(page, 4, total)
    go_offline(context, page, live_server)

    # --- 4 matching (offline) --------------------------------------------------------------------
    selects = page.locator(".match-row select")
    rights = page.eval_on_selector(".match-row select", "s => [...s.options].map(o => o.value).filter(Boolean)")
    lefts = page.eval_on_selector_all(".match-row label", "ls => ls.map(l => l.textContent)")
    pairs = []
    for i in range(selects.count()):
        right = rights[(i + 1) % len(rights)]
        selects.nth(i).select_option(right)
        pairs.append(right)
    page.wait_for_selector("[data-save-state].st-offline")
    assert "離線（稍後重試）" in save_state(page).inner_text()
    assert len(lefts) == selects.count()
    shot(page, "13-matching-offline")
    no_horizontal_scroll(page, "matching")
    next_item(page)

    # --- 5 short answer (offline): typed now, corrected after the reload ---------------------------------
    go_item(page, 5, total)
    page.get_by_label("在這裡輸入你的答案：").fill("41")
    page.wait_for_selector("[data-save-state].st-offline")
    shot(page, "14-short-answer-offline")
    no_horizontal_scroll(page, "short-answer")
    next_item(page)

    # --- 6 grid path (offline): arrow keys on the map, buttons, undo ------------------------------------
    go_item(page, 6, total)
    board = page.locator(".grid-board")
    board.focus()
    for key in ["ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowUp", "ArrowLeft"]:
        page.keyboard.press(key)
    page.keyboard.press("Backspace")  # undo the left
    page.get_by_role("button", name="往上走一格").click()
    for _ in range(2):
        page.get_by_role("button", name="往右走一格").click()
    for _ in range(2):
        page.get_by_role("button", name="往下走一格").click()
    moves = "DDRRRUURRDD"
    assert page.locator(".move-list li.move").count() == len(moves)
    assert "走到旗子" in page.locator(".grid-status").inner_text()
    expected[FORM_ITEMS["grid_path"]] = {"moves": moves}
    page.wait_for_selector("[data-save-state].st-offline")
    assert "離線" in page.locator("#netstate").inner_text()
    shot(page, "15-grid-path-offline")
    no_horizontal_scroll(page, "grid-path")

    # nothing has reached the server for items 4-6
    attempt_id = row.attempt_id
    held = server_answers(live_server.app, attempt_id)
    assert set(held) == {FORM_ITEMS[t] for t in ("single_choice", "multiple_response", "ordering")}

    # --- reload while offline: the Service Worker serves the shell; the queue is the truth --------------
    page.reload()
    go_item(page, 6, total)
    assert page.locator(".move-list li.move").count() == len(moves)
    assert "離線" in save_state(page).inner_text()
    page.get_by_role("button", name="← 上一題").click()
    go_item(page, 5, total)
    field = page.get_by_label("在這裡輸入你的答案：")
    assert field.input_value() == "41"
    field.fill("４２")  # full-width digits: the server normalises
    expected[FORM_ITEMS["short_answer"]] = {"text": "４２"}
    page.get_by_role("button", name="← 上一題").click()
    go_item(page, 4, total)
    assert [selects.nth(i).input_value() for i in range(selects.count())] == pairs
    left_ids = page.evaluate("""() => {
        const cfg = JSON.parse(sessionStorage.getItem('ctc.snapshot'));
        const item = cfg.items.find(i => i.type === 'matching');
        return item.left.map(l => l.id);
    }""")
    # the server stores pairs in the item's own left order (L1, L2, ...), whatever order they were shown in
    expected[FORM_ITEMS["matching"]] = {"pairs": sorted([[lid, rid] for lid, rid in zip(left_ids, pairs)])}

    # the overview shows answered, flagged and still-unsent items
    page.get_by_role("button", name="題目總覽").click()
    dialog = page.locator("dialog[open]")
    assert dialog.locator("button.ov-cell.answered").count() == total
    assert dialog.locator("button.ov-cell.flagged").count() == 1
    assert dialog.locator("button.ov-cell.pending").count() == 3
    shot(page, "16-overview-offline")
    dialog.get_by_role("button", name="關閉").click()

    # still nothing delivered: the reload and the edits after it stayed in the browser's queue
    assert set(server_answers(live_server.app, attempt_id)) == {
        FORM_ITEMS[t] for t in ("single_choice", "multiple_response", "ordering")}

    # --- back online: everything is delivered ----------------------------------------------------
    go_online(context, live_server)
    page.wait_for_function("() => document.querySelector('#netstate').classList.contains('saved')", timeout=60_000)
    assert "答案都已儲存" in page.locator("#netstate").inner_text()
    wait_saved(page)
    held = server_answers(live_server.app, attempt_id)
    assert {item_id: response for item_id, (seq, response) in held.items()} == expected
    assert held[FORM_ITEMS["short_answer"]][0] >= 2, "the correction after the reload has a newer seq"
    assert "practice" not in held

    # --- review and submit ------------------------------------------------------------------------
    page.get_by_role("button", name="題目總覽").click()
    page.locator("dialog[open]").get_by_role("button", name="檢查與交卷 →").click()
    page.wait_for_selector("text=檢查答案")
    assert "已作答 6 題，未作答 0 題，標記 1 題" in page.locator("#screen").inner_text()
    shot(page, "17-review")
    no_horizontal_scroll(page, "review")
    page.get_by_role("button", name="交卷").click()
    confirm = page.locator("dialog[open]")
    assert "確定要交卷嗎？" in confirm.inner_text()
    shot(page, "18-submit-confirm")
    confirm.get_by_role("button", name="確定交卷").click()
    page.wait_for_selector("text=完成了！")
    shot(page, "19-done")
    no_horizontal_scroll(page, "done")
    assert attempt_status(live_server.app, attempt_id) == "submitted"
    # a shared Chromebook keeps no answers after the test
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ctc.')).length") == 0
    assert not errors, f"script errors in the page: {errors}"
    context.close()


def _with_db(app: Any, fn: Any) -> Any:
    db = app.extensions["ctcensus"].sessions()
    try:
        result = fn(db)
        db.commit()
        return result
    finally:
        db.close()


def test_english_pause_relogin_and_closed_session(browser, live_server, demo_test) -> None:  # type: ignore[no-untyped-def]
    """English UI; a proctor pause shows and lifts; a revoked token re-logs in; a closed session ends."""
    from assessment import proctoring
    from assessment.models import Attempt

    row = demo_test.rows[1]
    app = live_server.app
    context = browser.new_context(viewport=WIDE, locale="en-GB")
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/take?lang=en&ticket={row.ticket}")
    assert "ticket=" not in page.url, "the ticket is removed from the address bar"
    assert page.get_by_label("Ticket code").input_value() == row.ticket
    page.get_by_role("button", name="Next").click()
    page.wait_for_selector("text=Is this you?")
    page.get_by_role("button", name="Yes, it's me").click()
    page.wait_for_selector("text=How the test works")
    assert page.locator("#clock").is_hidden()

    # --- "Start the test" without network: the clock does not start anywhere; it starts once back ---------
    go_offline(context, page, live_server)
    page.get_by_role("button", name="Start the test").click()
    page.wait_for_selector(".start-note:has-text('cannot be reached')")
    assert "Your time has not started" in page.locator(".start-note").inner_text()
    assert page.locator("#clock").is_hidden()
    assert page.get_by_role("button", name="Try again").is_enabled()
    assert attempt_clock(app, row.attempt_id)[0] == "not_started" and start_requests(live_server) == 0
    shot(page, "21-start-offline-en")
    go_online(context, live_server)  # the player retries by itself when the network is back
    page.wait_for_selector("text=Question 1 of 6")
    assert attempt_clock(app, row.attempt_id)[0] == "in_progress"
    page.wait_for_selector("#clock:not([hidden])")
    assert re.search(r"\d+:\d\d", page.locator("#clock").inner_text())
    page.locator("label.choice").nth(0).click()
    wait_saved_en = "() => document.querySelector('[data-save-state]')?.classList.contains('st-saved')"
    page.wait_for_function(wait_saved_en)
    assert "Saved" in page.locator("[data-save-state]").inner_text()

    # --- a reload after the start goes straight back to the items; the deadline does not move ---------------
    _, _, deadline_at = attempt_clock(app, row.attempt_id)
    page.reload()
    page.wait_for_selector("text=Question 1 of 6")
    page.wait_for_function(wait_saved_en)
    assert page.locator("#clock").is_visible()
    assert attempt_clock(app, row.attempt_id)[2] == deadline_at and start_requests(live_server) == 1

    # --- the proctor pauses: the next save is refused (409 paused), the player shows the pause --------
    _with_db(app, lambda db: proctoring.pause_session(db, demo_test.session_id, actor="test"))
    page.get_by_role("button", name="Next →").click()
    page.wait_for_selector("text=Question 2 of 6")
    page.locator("input[type=checkbox]").nth(1).check()
    page.wait_for_selector("#pause-overlay:not([hidden])")
    assert "Your teacher has paused the test" in page.locator("#pause-overlay").inner_text()
    assert "Paused" in page.locator("#clock").inner_text()
    shot(page, "20-paused-en")
    assert server_answers(app, row.attempt_id).keys() == {FORM_ITEMS["single_choice"]}

    # --- resumed: the queued answer goes through -----------------------------------------------------
    _with_db(app, lambda db: proctoring.resume_session(db, demo_test.session_id, actor="test"))
    page.wait_for_selector("#pause-overlay", state="hidden", timeout=30_000)
    page.wait_for_function(wait_saved_en, timeout=30_000)
    assert FORM_ITEMS["multiple_response"] in server_answers(app, row.attempt_id)

    # --- the token is revoked: the player signs in again with the ticket it kept ----------------------------
    def revoke(db: Any) -> None:
        db.get(Attempt, row.attempt_id).token_version += 1

    _with_db(app, revoke)
    page.get_by_role("button", name="Next →").click()
    page.wait_for_selector("text=Question 3 of 6")
    page.locator(".order-row").nth(0).locator("button.down").click()
    page.wait_for_function(wait_saved_en)
    assert FORM_ITEMS["ordering"] in server_answers(app, row.attempt_id)

    # --- the proctor closes the session: the next save ends on the done screen ----------------------------
    _with_db(app, lambda db: proctoring.close_session(db, demo_test.session_id, actor="test"))
    page.get_by_role("button", name="Next →").click()
    page.wait_for_selector("text=Question 4 of 6")
    page.locator(".match-row select").nth(0).select_option(index=1)
    page.wait_for_selector("text=All done!")
    assert "This test has ended" in page.locator("#screen").inner_text()
    assert attempt_status(app, row.attempt_id) == "submitted"
    assert not errors, f"script errors in the page: {errors}"
    context.close()
