"""The proctor console (/proctor) and the live class view: school scoping, CSRF, opening a session."""
import json
import re

import pytest

from assessment.accounts import create_user
from assessment.models import (
    Attempt,
    AuditEntry,
    TestSession,
)
from tests.assessment.factories import (
    import_bank,
    make_class,
    make_form,
    make_window,
    open_session,
)


@pytest.fixture
def school(db):  # type: ignore[no-untyped-def]
    """Two schools: ours with a grade-5 class (and a running session of another class), and another."""
    import_bank(db)
    make_window(db)
    ours, _ = open_session(db, n_students=2, school="es-ours")
    other_session, _ = open_session(db, n_students=2, school="es-other")
    klass = make_class(db, grade=5, n_students=4, school="es-ours", name="五年二班")
    form = make_form(db, 5, seed=2)  # the newest grade-5 form
    other_class = other_session.school_class
    create_user(db, "proc", "proctor-pass", "proctor", school_source_id="es-ours")
    create_user(db, "stranger", "proctor-pass", "proctor", school_source_id="es-other")
    create_user(db, "admin", "admin-pass-123", "admin")
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    return {"session": ours.id, "class": klass.id, "form": form.id, "other_session": other_session.id,
            "other_class": other_class.id, "minutes": form.time_limit_minutes}


def _login(client, username, password):  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def _csrf(client):  # type: ignore[no-untyped-def]
    page = client.get("/home").data
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def _counts(db):  # type: ignore[no-untyped-def]
    db.expire_all()
    result = (db.query(TestSession).count(), db.query(Attempt).count(),
              db.query(AuditEntry).filter_by(action="session.create").count())
    db.commit()
    return result


def _class_options(page):  # type: ignore[no-untyped-def]
    select = re.search(r'<select id="f-class".*?</select>', page, re.DOTALL)
    return set(re.findall(r'<option value="(\d+)"', select.group(0))) if select else set()


def _post(client, school, csrf, **overrides):  # type: ignore[no-untyped-def]
    data = {"class_id": str(school["class"]), "form_id": str(school["form"]), "minutes": "",
            "window": "113", "csrf_token": csrf}
    data.update(overrides)
    return client.post("/proctor/sessions", data={k: v for k, v in data.items() if v is not None})


def test_console_lists_own_school_and_offers_the_form(client, school) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/proctor").status_code == 302  # to the login page
    _login(client, "proc", "proctor-pass")
    response = client.get("/proctor")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "監考主控台" in page and 'lang="zh-TW"' in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page and " onclick=" not in page and " style=" not in page
    assert f'/proctor/sessions/{school["session"]}"' in page  # our running session
    assert f'/proctor/sessions/{school["other_session"]}"' not in page  # not the other school's
    assert "五年二班" in page and "es-other" not in page
    # the class select holds our classes only; the newest grade-5 form and its time limit are the defaults
    assert str(school["class"]) in _class_options(page) and str(school["other_class"]) not in _class_options(page)
    assert re.search(rf'<option value="{school["form"]}"[^>]*selected', page)
    assert f'name="minutes" inputmode="numeric" pattern="[0-9]*" size="5" value="{school["minutes"]}"' in page
    assert "監考主控台" in client.get("/home").get_data(as_text=True)
    english = client.get("/proctor?lang=en").get_data(as_text=True)
    assert "Proctor console" in english and "Open a session for a class" in english and 'lang="en"' in english


def test_open_a_session_from_the_form(client, db, school) -> None:  # type: ignore[no-untyped-def]
    _login(client, "proc", "proctor-pass")
    before = _counts(db)
    response = _post(client, school, _csrf(client), minutes="30")
    assert response.status_code == 303
    new = db.query(TestSession).order_by(TestSession.id.desc()).first()
    assert response.headers["Location"].endswith(f"/proctor/sessions/{new.id}")
    assert (new.class_id, new.form_id, new.time_limit_minutes, new.created_by) == (school["class"], school["form"], 30, "proc")
    assert _counts(db) == (before[0] + 1, before[1] + 4, before[2] + 1)
    audit = db.query(AuditEntry).filter_by(action="session.create").order_by(AuditEntry.id.desc()).first()
    assert audit.actor == "proc" and audit.detail["students"] == 4
    db.commit()
    live = client.get(response.headers["Location"])
    page = live.get_data(as_text=True)
    assert live.status_code == 200 and "五年二班 即時監看" in page and "已為 五年二班 開啟場次" in page
    # a second post for the same class (a double click) opens nothing: the class has an open session
    again = _post(client, school, _csrf(client))
    assert again.status_code == 409 and "已經有一個進行中的場次" in again.get_data(as_text=True)
    assert f'/proctor/sessions/{new.id}"' in again.get_data(as_text=True)
    assert _counts(db) == (before[0] + 1, before[1] + 4, before[2] + 1)


def test_blank_minutes_take_the_forms_limit(client, db, school) -> None:  # type: ignore[no-untyped-def]
    _login(client, "admin", "admin-pass-123")
    assert _post(client, school, _csrf(client)).status_code == 303
    new = db.query(TestSession).order_by(TestSession.id.desc()).first()
    assert new.time_limit_minutes == school["minutes"] and new.created_by == "admin"
    db.commit()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("minutes", "0", "作答時間請填 1 到 240"),
    ("minutes", "abc", "作答時間請填 1 到 240"),
    ("minutes", "241", "作答時間請填 1 到 240"),
    ("class_id", "", "請選擇一個班級"),
    ("class_id", "999999", "請選擇一個班級"),
    ("form_id", "x", "請選擇一份題本"),
    ("form_id", "999999", "請選擇一份題本"),
    ("window", "", "請選擇一個開放中的測驗期間"),
    ("window", "nope", "請選擇一個開放中的測驗期間"),
])
def test_bad_input_shows_the_form_again_and_changes_nothing(client, db, school, field, value, message) -> None:  # type: ignore[no-untyped-def]
    _login(client, "proc", "proctor-pass")
    before = _counts(db)
    response = _post(client, school, _csrf(client), **{field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page and 'role="alert"' in page
    assert 'aria-invalid="true"' in page and "場次沒有開啟" in page
    assert _counts(db) == before


def test_form_of_another_grade_is_refused(client, db, school) -> None:  # type: ignore[no-untyped-def]
    grade8_id = make_form(db, 8).id
    db.commit()
    _login(client, "proc", "proctor-pass")
    before = _counts(db)
    response = _post(client, school, _csrf(client), form_id=str(grade8_id))
    assert response.status_code == 400 and "這份題本不是這個班級年級的正式題本" in response.get_data(as_text=True)
    english = _post(client, school, _csrf(client), form_id=str(grade8_id)).get_data(as_text=True)
    assert "這份題本" in english  # the language cookie is still zh-TW
    client.get("/proctor?lang=en")
    english = _post(client, school, _csrf(client), form_id=str(grade8_id)).get_data(as_text=True)
    assert "This form is not an operational form of the class" in english
    assert _counts(db) == before


def test_closed_window_is_refused(client, db, school) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from assessment.db import utcnow
    from assessment.windows import create_window

    now = utcnow()
    create_window(db, "112", "112 學年度普測", now - timedelta(days=400), now - timedelta(days=300))
    db.commit()
    _login(client, "proc", "proctor-pass")
    before = _counts(db)
    page = client.get("/proctor").get_data(as_text=True)
    assert 'value="113"' in page and 'value="112"' not in page
    response = _post(client, school, _csrf(client), window="112")
    assert response.status_code == 400 and "這個測驗期間目前沒有開放" in response.get_data(as_text=True)
    assert _counts(db) == before


def test_csrf_is_required(client, db, school) -> None:  # type: ignore[no-untyped-def]
    _login(client, "proc", "proctor-pass")
    before = _counts(db)
    assert _post(client, school, None).status_code == 400
    assert _post(client, school, "forged-token").status_code == 400
    assert _counts(db) == before


def test_other_schools_class_and_session_are_forbidden(client, db, school) -> None:  # type: ignore[no-untyped-def]
    _login(client, "stranger", "proctor-pass")
    before = _counts(db)
    assert client.get(f"/proctor/sessions/{school['session']}").status_code == 403
    assert client.get(f"/proctor/sessions/{school['other_session']}").status_code == 200  # their own
    response = _post(client, school, _csrf(client))  # our class, their login
    assert response.status_code == 403
    assert _counts(db) == before
    page = client.get("/proctor").get_data(as_text=True)
    assert str(school["class"]) not in _class_options(page) and str(school["other_class"]) in _class_options(page)
    assert f'/proctor/sessions/{school["session"]}"' not in page


def test_roles(client, db, school) -> None:  # type: ignore[no-untyped-def]
    _login(client, "res", "research-pass")
    assert client.get("/proctor").status_code == 403
    assert client.get(f"/proctor/sessions/{school['session']}").status_code == 403
    assert _post(client, school, _csrf(client)).status_code == 403
    client.post("/logout", data={"csrf_token": _csrf(client)})
    _login(client, "admin", "admin-pass-123")
    page = client.get("/proctor").get_data(as_text=True)  # an admin sees every school
    assert f'/proctor/sessions/{school["session"]}"' in page and f'/proctor/sessions/{school["other_session"]}"' in page
    assert client.get(f"/proctor/sessions/{school['other_session']}").status_code == 200


def test_live_view_renders_in_both_languages_without_inline_script(client, school) -> None:  # type: ignore[no-untyped-def]
    _login(client, "proc", "proctor-pass")
    url = f"/proctor/sessions/{school['session']}"
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    for text in ("即時監看", "暫停全班", "結束場次", "列印登入代碼單", "座號", "剩餘時間", "最後儲存"):
        assert text in page, text
    assert f'href="/proctor/sessions/{school["session"]}/tickets"' in page
    # scripts only from files; the config is inert JSON with the CSRF token, the status and the messages
    assert re.findall(r"<script(?![^>]*(type=\"application/json\"|src=))", page) == []
    assert " onclick=" not in page and " style=" not in page
    config = json.loads(re.search(r'<script type="application/json" id="console-config">(.*?)</script>', page, re.DOTALL).group(1))
    assert config["statusUrl"] == f"/proctor/api/sessions/{school['session']}/status"
    assert config["sessionActionBase"] == f"/proctor/api/sessions/{school['session']}"
    assert config["attemptActionBase"] == "/proctor/api/attempts"
    assert config["csrf"] and config["pollSeconds"] == 5
    assert len(config["initial"]["students"]) == 2 and config["messages"]["proctor.state.not_joined"] == "未登入"
    assert "王同學1" in page
    english = client.get(url + "?lang=en").get_data(as_text=True)
    assert "Pause the class" in english and "Time left" in english and 'lang="en"' in english
    config = json.loads(re.search(r'id="console-config">(.*?)</script>', english, re.DOTALL).group(1))
    assert config["messages"]["proctor.state.not_joined"] == "Not joined"


def test_status_gives_the_current_item_number(client, app, school) -> None:  # type: ignore[no-untyped-def]
    from webapp.extensions import services

    _login(client, "proc", "proctor-pass")
    with app.app_context():
        db = services().sessions()
        test_session = db.get(TestSession, school["session"])
        ticket = test_session.attempts[0].ticket
        third = test_session.form.items[2].item.item_id
        db.close()
    token = client.post("/api/v1/login", json={"ticket": ticket}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/attempt/start", headers=auth)
    client.post("/api/v1/attempt/heartbeat", headers=auth, json={"current_item": third})
    row = client.get(f"/proctor/api/sessions/{school['session']}/status").get_json()["students"][0]
    assert (row["current_item"], row["current_position"]) == (third, 3)


def test_console_counts(client, school) -> None:  # type: ignore[no-untyped-def]
    """The list's joined / in progress / submitted counts follow the students."""
    _login(client, "proc", "proctor-pass")
    from webapp.extensions import services

    with client.application.app_context():
        db = services().sessions()
        tickets = [a.ticket for a in db.get(TestSession, school["session"]).attempts]
        db.close()
    token = client.post("/api/v1/login", json={"ticket": tickets[0]}).get_json()["token"]
    client.post("/api/v1/login", json={"ticket": tickets[1]})
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/attempt/start", headers=auth)
    page = client.get("/proctor").get_data(as_text=True)
    row = re.search(rf'<tr>.*?/proctor/sessions/{school["session"]}".*?</tr>', page, re.DOTALL).group(0)
    numbers = re.findall(r'<td class="num"[^>]*>(\d+)</td>', row)
    assert numbers == ["2", "2", "1", "0"]
    client.post("/api/v1/attempt/submit", headers=auth)
    page = client.get("/proctor").get_data(as_text=True)
    row = re.search(rf'<tr>.*?/proctor/sessions/{school["session"]}".*?</tr>', page, re.DOTALL).group(0)
    assert re.findall(r'<td class="num"[^>]*>(\d+)</td>', row) == ["2", "2", "0", "1"]
