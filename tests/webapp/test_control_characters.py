"""Issue 8.7: control characters (NUL first) in a URL path, a form field or a JSON string are a 400, never a 500.

PostgreSQL refuses NUL in text, so these ran into a 500 there; run with DATABASE_URL set too.
"""
import re

import pytest

from assessment.accounts import create_user
from assessment.models import Answer, AuditEntry, TestSession
from tests.assessment.factories import make_class, make_form, open_session


@pytest.fixture
def setup(db):  # type: ignore[no-untyped-def]
    _, attempts = open_session(db, n_students=2, school="es-ours")
    klass_id = make_class(db, grade=5, n_students=2, school="es-ours", name="五年二班").id
    form = make_form(db, 5, seed=2)
    create_user(db, "proc", "proctor-pass", "proctor", school_source_id="es-ours")
    db.commit()
    return {"tickets": [a.ticket for a in attempts], "class": klass_id, "form": form.id}


def _csrf(client, path="/login"):  # type: ignore[no-untyped-def]
    return re.search(rb'name="csrf_token" value="([^"]+)"', client.get(path).data).group(1).decode()


def _student(client, ticket):  # type: ignore[no-untyped-def]
    token = client.post("/api/v1/login", json={"ticket": ticket}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/attempt/start", headers=auth).status_code == 200
    return auth


def _no_answers(db) -> bool:  # type: ignore[no-untyped-def]
    db.expire_all()
    empty = db.query(Answer).count() == 0
    db.commit()
    return empty


@pytest.mark.parametrize("path", ["d2-paper-fold%00", "d2-paper-fold%01x", "%7F", "d2%C2%85fold"])
def test_answer_path_with_a_control_character_is_400_json(client, db, setup, path) -> None:  # type: ignore[no-untyped-def]
    auth = _student(client, setup["tickets"][0])
    response = client.put(f"/api/v1/attempt/answers/{path}", headers=auth, json={"seq": 1, "response": {"text": "8"}})
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "control_character" and "U+" in body["message"] and "URL path" in body["message"]
    assert _no_answers(db)


@pytest.mark.parametrize("text", ["8\x00", "\x1b[2J8", "8\u0085"])
def test_json_strings_with_a_control_character_are_400(client, db, setup, text) -> None:  # type: ignore[no-untyped-def]
    auth = _student(client, setup["tickets"][0])
    response = client.put("/api/v1/attempt/answers/d2-paper-fold", headers=auth, json={"seq": 1, "response": {"text": text}})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_json"
    assert "control character" in response.get_json()["message"]
    beat = client.post("/api/v1/attempt/heartbeat", headers=auth, json={"current_item": "d2-paper-fold\x00"})
    assert beat.status_code == 400 and beat.get_json()["error"] == "bad_json"
    assert _no_answers(db)


def test_ticket_with_a_nul_is_just_a_wrong_ticket(client, setup) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/login", json={"ticket": setup["tickets"][0][:4] + "\x00" + setup["tickets"][0][4:]})
    assert response.status_code in (400, 401) and response.get_json()["error"] in ("bad_ticket", "bad_json")


def test_staff_login_with_a_nul_in_the_username_is_a_400_form_error(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"username": "proc\x00", "password": "proctor-pass",
                                           "csrf_token": _csrf(client)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "username" in page and "U+0000" in page
    db.expire_all()
    assert db.query(AuditEntry).filter_by(action="auth.login").count() == 0
    db.commit()
    # the same client still signs in normally
    ok = client.post("/login", data={"username": "proc", "password": "proctor-pass", "csrf_token": _csrf(client)})
    assert ok.status_code == 302


def test_opening_a_session_with_a_nul_in_the_window_is_a_400_form_error(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    client.post("/login", data={"username": "proc", "password": "proctor-pass", "csrf_token": _csrf(client)})
    db.expire_all()
    before = db.query(TestSession).count()
    db.commit()
    response = client.post("/proctor/sessions", data={
        "class_id": str(setup["class"]), "form_id": str(setup["form"]), "minutes": "", "window": "113\x00",
        "csrf_token": _csrf(client, "/home")})
    assert response.status_code == 400
    assert "window" in response.get_data(as_text=True)
    db.expire_all()
    assert db.query(TestSession).count() == before
    db.commit()
