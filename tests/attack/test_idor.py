"""Insecure direct object references: a student's token reaches only its own attempt and its form's items;
school A's staff cannot act on school B's sessions, attempts or classes (and nothing changes when they try)."""
from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assessment.models import Answer, TestSession
from tests.assessment.factories import correct_response, starter_items

from .conftest import World, bearer, csrf_of, snapshot, staff_client, student_token


def _answers_by_attempt(db: Session) -> dict[int, set[str]]:
    from assessment.models import ItemRecord

    db.expire_all()
    rows = db.execute(select(Answer.attempt_id, ItemRecord.item_id).join(ItemRecord, ItemRecord.pk == Answer.item_pk))
    out: dict[int, set[str]] = {}
    for attempt_id, item_id in rows:
        out.setdefault(attempt_id, set()).add(item_id)
    db.commit()
    return out


def test_a_token_reads_and_writes_only_its_own_attempt(client: FlaskClient, db: Session, two_schools: World) -> None:
    """A1 saves every item; A2 (same class) and B1 (other school) see none of it, and no request of A1
    can name another attempt: ids in the query or body are refused or ignored."""
    world = two_schools
    mine = student_token(client, world.a.tickets[0])
    classmate = student_token(client, world.a.tickets[1])
    foreign = student_token(client, world.b.tickets[0])
    for seq, item in enumerate(world.items.values(), start=1):
        for query in ("", f"?attempt_id={world.a.attempt_ids[1]}", f"?attempt={world.b.attempt_ids[0]}"):
            url = f"/api/v1/attempt/answers/{item.id}{query}"
            response = client.put(url, headers=bearer(mine), json={"seq": seq, "response": correct_response(item)})
            assert response.status_code == 200, response.get_json()
        smuggled = client.put(f"/api/v1/attempt/answers/{item.id}", headers=bearer(mine),
                              json={"seq": seq + 100, "response": None, "attempt_id": world.b.attempt_ids[0]})
        assert smuggled.status_code == 400 and smuggled.get_json()["error"] == "bad_json"
    assert _answers_by_attempt(db) == {world.a.attempt_ids[0]: {i.id for i in world.items.values()}}
    for token, attempt_id in ((classmate, world.a.attempt_ids[1]), (foreign, world.b.attempt_ids[0])):
        for query in ("", f"?attempt_id={world.a.attempt_ids[0]}"):
            view = client.get(f"/api/v1/attempt{query}", headers=bearer(token)).get_json()
            assert view["attempt_id"] == attempt_id and view["answers"] == {}
            assert world.a.tickets[0] not in str(view)
    # the owner's view: its own answers, and no ticket of anyone
    view = client.get("/api/v1/attempt", headers=bearer(mine)).get_json()
    assert set(view["answers"]) == {i.id for i in world.items.values()}
    assert not any(t in str(view) for t in (*world.a.tickets, *world.b.tickets))


def _not_on_the_form(world: World) -> list[str]:
    on_form = {i.id for i in world.items.values()}
    others = sorted({i.id for i in starter_items()} - on_form)
    grade8 = [i.id for i in starter_items() if 5 not in i.grades and i.id not in on_form][:3]
    retired = [i.id for i in starter_items() if i.status != "operational" and i.id not in on_form][:3]
    return [*others[:6], *grade8, *retired]


ODD_ITEM_IDS = [
    "..", ".%2E", "%2E%2E%2Fattempt", "d1-data-kinds%2F..%2F..", "%252E%252E", "*", "%25", "'%20OR%201=1--",
    "x" * 65, "<svg onload=alert(1)>", "%E5%AD%B8", "%F0%9F%98%80", "items?id=1", "%00", "%0A",
]


def test_odd_item_ids_are_4xx_json_and_store_nothing(client: FlaskClient, two_schools: World, watch: Engine) -> None:
    """Traversal, encoding tricks, SQL, markup and over-long ids: a 4xx JSON error, never echoed markup, no row."""
    token = student_token(client, two_schools.a.tickets[0])
    before = snapshot(watch, "answers")
    for item_id in ODD_ITEM_IDS:
        response = client.put(f"/api/v1/attempt/answers/{item_id}", headers=bearer(token),
                              json={"seq": 1, "response": {"choice": "A"}})
        assert 400 <= response.status_code < 500 and response.mimetype == "application/json", item_id
        body = response.get_json()
        assert set(body) == {"error", "message"} and "<svg" not in body["message"], item_id
    assert snapshot(watch, "answers") == before


def test_item_ids_of_other_forms_are_unknown_items(client: FlaskClient, two_schools: World, watch: Engine) -> None:
    """Items of the bank that are not on the attempt's form (other grade, retired, not drawn) are 404 unknown_item
    for a save and 422 unknown_item for a heartbeat; nothing is stored or reported."""
    world = two_schools
    token = student_token(client, world.a.tickets[0])
    foreign_ids = _not_on_the_form(world)
    assert len(foreign_ids) >= 8
    before = snapshot(watch, "answers", "attempts")
    for item_id in foreign_ids:
        item = next(i for i in starter_items() if i.id == item_id)
        save = client.put(f"/api/v1/attempt/answers/{item_id}", headers=bearer(token),
                          json={"seq": 1, "response": correct_response(item)})
        assert save.status_code == 404 and save.get_json()["error"] == "unknown_item", item_id
        beat = client.post("/api/v1/attempt/heartbeat", headers=bearer(token), json={"current_item": item_id})
        assert beat.status_code == 422 and beat.get_json()["error"] == "unknown_item", item_id
    assert snapshot(watch, "answers", "attempts") == before


def _session_count(db: Session) -> int:
    db.expire_all()
    count = len(db.scalars(select(TestSession.id)).all())
    db.commit()
    return count


@pytest.mark.parametrize("username", ["a-proctor", "a-admin"])
def test_school_staff_cannot_act_on_another_schools_sessions(app: Flask, db: Session, two_schools: World, watch: Engine,
                                                            username: str) -> None:
    """Pause, resume, close, extend, lock, unlock on school B's ids: 403, nothing changes, nothing is audited."""
    world = two_schools
    client, csrf = staff_client(app, username)
    headers = {"X-CSRF-Token": csrf}
    before = snapshot(watch)
    for action in ("pause", "resume", "close"):
        response = client.post(f"/proctor/api/sessions/{world.b.session_id}/{action}", headers=headers)
        assert response.status_code == 403 and response.get_json()["error"] == "forbidden", action
    for attempt_id in world.b.attempt_ids:
        for action, body in (("extend", {"seconds": 600}), ("extend", {"minutes": 10}), ("lock", None),
                             ("unlock", None)):
            response = client.post(f"/proctor/api/attempts/{attempt_id}/{action}", headers=headers, json=body)
            assert response.status_code == 403 and response.get_json()["error"] == "forbidden", action
            assert "deadline_at" not in response.get_json()
    assert snapshot(watch) == before
    # opening a session for B's class from A's console: refused, no session made
    sessions = _session_count(db)
    page = client.get("/proctor")
    console = page.get_data(as_text=True)
    assert page.status_code == 200 and world.b.class_source_id not in console
    assert f'/proctor/sessions/{world.b.session_id}"' not in console and f"/sessions/{world.a.session_id}\"" in console
    assert not any(t in console for t in world.b.tickets)
    form = {"class_id": str(world.b.class_id), "form_id": "1", "minutes": "35", "window": "113",
            "csrf_token": csrf_of(page.data)}
    opened = client.post("/proctor/sessions", data=form)
    assert 400 <= opened.status_code < 500
    assert _session_count(db) == sessions
    # the control: the same actions on the user's own school work
    own = client.post(f"/proctor/api/attempts/{world.a.attempt_ids[0]}/extend", headers=headers,
                      json={"seconds": 60})
    assert own.status_code == 200


@pytest.mark.parametrize("username", ["a-teacher", "researcher", "bureau"])
def test_roles_without_proctoring_cannot_act_on_any_session(app: Flask, two_schools: World, watch: Engine,
                                                            username: str) -> None:
    world = two_schools
    client, csrf = staff_client(app, username)
    before = snapshot(watch)
    for side in (world.a, world.b):
        response = client.post(f"/proctor/api/sessions/{side.session_id}/pause", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403
        response = client.post(f"/proctor/api/attempts/{side.attempt_ids[0]}/lock", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403
    assert client.post("/proctor/sessions", data={"class_id": str(world.a.class_id), "form_id": "1",
                                                  "minutes": "35", "window": "113", "csrf_token": csrf}
                       ).status_code == 403
    assert snapshot(watch) == before
