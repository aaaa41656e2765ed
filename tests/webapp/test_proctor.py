"""Proctor pages: the ticket sheet, live status JSON and actions, each school-scoped."""
import re

import pytest

from assessment.accounts import create_user
from assessment.models import AuditEntry
from tests.assessment.factories import open_all_types_session


@pytest.fixture
def setup(db):  # type: ignore[no-untyped-def]
    test_session, attempts, items = open_all_types_session(db, n_students=3)
    school = test_session.school_class.school.source_id
    create_user(db, "proc", "proctor-pass", "proctor", school_source_id=school)
    create_user(db, "boss", "school-pass", "school_admin", school_source_id=school)
    open_all_types_session(db, n_students=1, school="es-other")
    create_user(db, "stranger", "proctor-pass", "proctor", school_source_id="es-other")
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    return test_session, attempts, items


def _login(client, username, password):  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return token


def _csrf(client):  # type: ignore[no-untyped-def]
    page = client.get("/home").data
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def test_ticket_sheet_is_printable_and_school_scoped(client, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = setup
    url = f"/proctor/sessions/{test_session.id}/tickets"
    assert client.get(url).status_code == 302  # to the login page
    _login(client, "proc", "proctor-pass")
    page = client.get(url).get_data(as_text=True)
    for a in attempts:
        assert f"{a.ticket[:4]}-{a.ticket[4:]}" in page and a.student.display_name in page
    assert "http://localhost/take" in page and "學生登入代碼單" in page and "@media print" not in page
    assert client.get(url + "?lang=en").get_data(as_text=True).count("Ticket") >= 3
    client.post("/logout", data={"csrf_token": _csrf(client)})
    _login(client, "stranger", "proctor-pass")
    assert client.get(url).status_code == 403
    client.post("/logout", data={"csrf_token": _csrf(client)})
    _login(client, "res", "research-pass")
    assert client.get(url).status_code == 403


def test_status_json_and_actions(client, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, items = setup
    status_url = f"/proctor/api/sessions/{test_session.id}/status"
    anon = client.get(status_url)
    assert anon.status_code == 401 and anon.get_json()["error"] == "unauthorized"
    student = client.post("/api/v1/login", json={"ticket": attempts[0].ticket}).get_json()
    student_auth = {"Authorization": f"Bearer {student['token']}"}
    _login(client, "boss", "school-pass")
    # signed in, reading the instructions: joined, not in progress, no clock
    body = client.get(status_url).get_json()
    row = body["students"][0]
    assert body["counts"]["joined"] == 1 and body["counts"]["in_progress"] == 0
    assert (row["joined"], row["started"], row["status"], row["deadline_at"]) == (True, False, "not_started", None)
    assert body["students"][1]["joined"] is False
    client.post("/api/v1/attempt/start", headers=student_auth)
    client.post("/api/v1/attempt/heartbeat", headers=student_auth, json={"current_item": items["grid_path"].id})
    body = client.get(status_url).get_json()
    row = body["students"][0]
    assert body["counts"]["joined"] == 1 and body["counts"]["in_progress"] == 1
    assert (row["started"], row["status"]) == (True, "in_progress") and row["deadline_at"]
    assert row["current_item"] == items["grid_path"].id
    csrf = _csrf(client)
    assert client.post(f"/proctor/api/sessions/{test_session.id}/pause").status_code == 400  # no CSRF token
    paused = client.post(f"/proctor/api/sessions/{test_session.id}/pause", headers={"X-CSRF-Token": csrf})
    assert paused.get_json()["status"] == "paused"
    assert client.get(status_url).get_json()["session"]["status"] == "paused"
    again = client.post(f"/proctor/api/sessions/{test_session.id}/pause", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409 and again.get_json()["error"] == "not_open"
    client.post(f"/proctor/api/sessions/{test_session.id}/resume", headers={"X-CSRF-Token": csrf})
    ext = client.post(f"/proctor/api/attempts/{attempts[0].id}/extend", headers={"X-CSRF-Token": csrf},
                      json={"minutes": 5})
    assert ext.status_code == 200 and ext.get_json()["extra_seconds"] == 300
    bad = client.post(f"/proctor/api/attempts/{attempts[0].id}/extend", headers={"X-CSRF-Token": csrf},
                      json={"seconds": "lots"})
    assert bad.status_code == 400
    lock = client.post(f"/proctor/api/attempts/{attempts[0].id}/lock", headers={"X-CSRF-Token": csrf})
    assert lock.get_json()["locked"] is True
    assert client.get("/api/v1/attempt", headers={"Authorization": f"Bearer {student['token']}"}).status_code == 401
    client.post(f"/proctor/api/attempts/{attempts[0].id}/unlock", headers={"X-CSRF-Token": csrf})
    closed = client.post(f"/proctor/api/sessions/{test_session.id}/close", headers={"X-CSRF-Token": csrf})
    assert closed.get_json()["status"] == "closed"


def test_actions_are_audited_and_other_schools_refused(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = setup
    _login(client, "stranger", "proctor-pass")
    csrf = _csrf(client)
    assert client.get(f"/proctor/api/sessions/{test_session.id}/status").status_code == 403
    assert client.post(f"/proctor/api/attempts/{attempts[0].id}/lock",
                       headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.get("/proctor/api/sessions/99999/status").status_code == 404
    client.post("/logout", data={"csrf_token": csrf})
    _login(client, "proc", "proctor-pass")
    csrf = _csrf(client)
    client.post(f"/proctor/api/sessions/{test_session.id}/pause", headers={"X-CSRF-Token": csrf})
    client.post(f"/proctor/api/attempts/{attempts[1].id}/extend", headers={"X-CSRF-Token": csrf},
                json={"seconds": 90})
    db.expire_all()
    entries = {e.action: e for e in db.query(AuditEntry)}
    assert entries["session.pause"].actor == "proc" and entries["attempt.extend"].detail["seconds"] == 90
    assert "attempt.lock" not in entries
    db.commit()


HUGE = "999999999999999999999999999999"


def test_huge_ids_are_404_and_nothing_is_probed_unauthenticated(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = setup
    # unauthenticated: 401 whether or not the attempt exists (no lookup, no row lock)
    for attempt_id in (attempts[0].id, 999999, 2**31 - 1):
        response = client.post(f"/proctor/api/attempts/{attempt_id}/lock", json={})
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    for session_id in (test_session.id, 999999):
        assert client.post(f"/proctor/api/sessions/{session_id}/pause").status_code == 401
    _login(client, "proc", "proctor-pass")
    headers = {"X-CSRF-Token": _csrf(client)}
    for method, url in [("get", f"/proctor/sessions/{HUGE}"), ("get", f"/proctor/sessions/{HUGE}/tickets"),
                        ("get", f"/proctor/api/sessions/{HUGE}/status"), ("post", f"/proctor/api/sessions/{HUGE}/pause"),
                        ("post", f"/proctor/api/attempts/{HUGE}/extend"), ("post", f"/proctor/api/attempts/{2**31}/lock"),
                        ("get", f"/proctor/api/sessions/{2**31}/status")]:
        response = getattr(client, method)(url, headers=headers, json={"seconds": 60} if method == "post" else None)
        assert response.status_code == 404, (url, response.status_code)
    assert client.post(f"/proctor/api/attempts/{2**31 - 1}/lock", headers=headers).get_json()["error"] == "not_found"
    # a staff action without the CSRF token is refused before the attempt is looked up
    assert client.post(f"/proctor/api/attempts/{attempts[0].id}/lock").status_code == 400
    db.expire_all()
    assert not any(a.locked for a in attempts) and db.query(AuditEntry).filter_by(action="attempt.lock").count() == 0


def test_ticket_sheet_is_never_cached(client, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, _, _ = setup
    _login(client, "proc", "proctor-pass")
    response = client.get(f"/proctor/sessions/{test_session.id}/tickets")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_deeply_nested_json_to_a_staff_action_is_400(client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    _login(client, "proc", "proctor-pass")
    response = client.post(f"/proctor/api/attempts/{attempts[0].id}/extend", data="[" * 50_000 + "]" * 50_000,
                           content_type="application/json", headers={"X-CSRF-Token": _csrf(client)})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_json"
