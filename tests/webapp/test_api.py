"""The student JSON API: login, attempt payloads without keys, answers, submit, errors, OpenAPI."""
import json
import re
from datetime import datetime, timedelta

import pytest

from assessment import proctoring
from assessment.attempts import remaining_seconds
from assessment.db import utcnow
from assessment.models import Answer, Attempt
from tests.assessment.factories import (
    TYPES,
    correct_response,
    malformed_response,
    open_all_types_session,
    starter_items,
)

FORBIDDEN_KEYS = {"key", "answer", "rationale", "irt", "accepted", "tolerance", "value", "shortest_path",
                  "shortest_path_length", "parameter_set", "a", "d", "c", "status", "anchor", "dimension"}


@pytest.fixture
def setup(db):  # type: ignore[no-untyped-def]
    return open_all_types_session(db, n_students=3)


def _login(client, ticket):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/login", json={"ticket": ticket})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _auth(token):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {token}"}


def _start(client, token):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/attempt/start", headers=_auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _login_and_start(client, ticket):  # type: ignore[no-untyped-def]
    """What the player does: sign in, then "start the test"."""
    body = _login(client, ticket)
    _start(client, body["token"])
    return body


def _time(value):  # type: ignore[no-untyped-def]
    return datetime.fromisoformat(value)


def _walk_keys(value, path=""):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, path
            yield from _walk_keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _walk_keys(v, path)


def test_login_then_attempt_without_any_key(client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    body = _login(client, attempts[0].ticket[:4].lower() + "-" + attempts[0].ticket[4:])
    assert body["attempt_id"] == attempts[0].id and body["token_type"] == "Bearer"
    assert body["status"] == "not_started" and body["remaining_seconds"] == 35 * 60 and body["deadline_at"] is None
    _start(client, body["token"])
    response = client.get("/api/v1/attempt", headers=_auth(body["token"]))
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert {"status", "deadline_at", "server_time", "items", "item_count", "answers"} <= set(data)
    assert data["item_count"] == len(TYPES)
    assert [i["type"] for i in data["items"]] == list(TYPES)
    for view in data["items"]:
        item = items[view["type"]]
        assert view["id"] == item.id
        leaked = [(k, p) for k, p in _walk_keys(view) if k in FORBIDDEN_KEYS and not p.startswith(".images")]
        assert not leaked, f"{item.type} payload carries {leaked}"
        text = json.dumps(view, ensure_ascii=False)
        if item.rationale is not None:
            for lang_text in (item.rationale.get("zh-TW"), item.rationale.get("en")):
                assert lang_text not in text
        if item.type in ("single_choice", "multiple_response", "ordering"):
            assert {o["id"] for o in view["options"]} == set(item.option_ids)
        if item.type == "matching":
            assert [o["id"] for o in view["left"]] and [o["id"] for o in view["right"]]
        if item.type == "grid_path":
            assert view["grid"]["map"] and "shortest" not in text
        if item.type == "short_answer":
            assert view["answer_kind"] in ("numeric", "text")
    english = client.get("/api/v1/attempt?lang=en", headers=_auth(body["token"])).get_json()
    assert english["lang"] == "en" and english["items"][0]["title"] == items[TYPES[0]].title.get("en")


def test_no_item_content_before_the_start(client, setup) -> None:  # type: ignore[no-untyped-def]
    """The clock starts at POST /attempt/start, so GET /attempt sends no stem or option before it."""
    _, attempts, items = setup
    token = _login(client, attempts[1].ticket)["token"]
    for lang in ("zh-TW", "en"):
        response = client.get(f"/api/v1/attempt?lang={lang}", headers=_auth(token))
        assert response.status_code == 200
        data = response.get_json()
        assert data["status"] == "not_started" and data["items"] == [] and data["item_count"] == len(TYPES)
        assert data["student"]["name"] and data["remaining_seconds"] == 35 * 60
        text = json.dumps(data, ensure_ascii=False)
        for item in items.values():
            view = item.student_view(lang)
            assert item.id not in text
            texts = [view.get("stem"), view.get("title")]
            texts += [o.get("text") for key in ("options", "left", "right") for o in view.get(key) or []]
            for fragment in filter(None, texts):
                assert fragment not in text, f"{item.id}: {fragment!r} sent before the start"
    _start(client, token)
    started = client.get("/api/v1/attempt?lang=en", headers=_auth(token)).get_json()
    assert [i["id"] for i in started["items"]] == [items[t].id for t in TYPES]
    assert started["items"][0]["stem"] == items[TYPES[0]].student_view("en")["stem"]


def test_shuffled_options_are_per_student_and_scoring_is_unaffected(client, db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = open_all_types_session(db, n_students=6, shuffle=True)
    orders = set()
    for attempt in attempts:
        token = _login_and_start(client, attempt.ticket)["token"]
        view = client.get("/api/v1/attempt", headers=_auth(token)).get_json()
        mr = next(v for v in view["items"] if v["type"] == "multiple_response")
        orders.add(tuple(o["id"] for o in mr["options"]))
        item = items["multiple_response"]
        ack = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                         json={"seq": 1, "response": correct_response(item)})
        assert ack.status_code == 200
    assert len(orders) > 1
    db.expire_all()
    assert {a.score for a in db.query(Answer)} == {1}


def test_answers_are_acknowledged_and_resume_on_a_second_client(app, client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    for seq, kind in enumerate(TYPES, start=1):
        item = items[kind]
        response = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                              json={"seq": seq, "response": correct_response(item),
                                    "answered_at": utcnow().isoformat()})
        assert response.status_code == 200 and response.get_json() == {"item_id": item.id, "seq": seq}
    # replay and stale: 200 with the stored seq
    item = items["single_choice"]
    replay = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                        json={"seq": 1, "response": correct_response(item)})
    assert replay.get_json() == {"item_id": item.id, "seq": 1}
    client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token), json={"seq": 9, "response": None})
    stale = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                       json={"seq": 8, "response": correct_response(item)})
    assert stale.status_code == 200 and stale.get_json()["seq"] == 9
    # a second device signs in with the same ticket and sees every acknowledged answer
    other = app.test_client()
    token2 = _login(other, attempts[0].ticket)["token"]
    answers = other.get("/api/v1/attempt", headers=_auth(token2)).get_json()["answers"]
    assert set(answers) == {items[k].id for k in TYPES}
    assert answers[item.id] == {"seq": 9, "response": None, "saved_at": answers[item.id]["saved_at"]}
    assert answers[items["grid_path"].id]["response"] == {"moves": correct_response(items["grid_path"])["moves"]}
    # the first device's token still works (its queue can still drain)
    assert client.get("/api/v1/attempt", headers=_auth(token)).status_code == 200


@pytest.mark.parametrize("kind", TYPES)
def test_malformed_response_is_422_json_and_not_stored(client, db, setup, kind) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    item = items[kind]
    response = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                          json={"seq": 1, "response": malformed_response(item)})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_response" and "<b>" not in body["message"]
    assert db.query(Answer).count() == 0


def test_a_token_opens_only_its_own_attempt(client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    mine = _login_and_start(client, attempts[0].ticket)
    theirs = _login_and_start(client, attempts[1].ticket)
    view = client.get("/api/v1/attempt", headers=_auth(mine["token"])).get_json()
    assert view["attempt_id"] == attempts[0].id != theirs["attempt_id"]
    item = items["single_choice"]
    client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(mine["token"]),
               json={"seq": 1, "response": correct_response(item)})
    assert client.get("/api/v1/attempt", headers=_auth(theirs["token"])).get_json()["answers"] == {}
    # no id in the URL to tamper with; a forged or re-signed token is refused
    forged = mine["token"][:-3] + ("xyz" if not mine["token"].endswith("xyz") else "abc")
    for headers in ({}, {"Authorization": "Bearer " + forged}, {"Authorization": "Basic abc"},
                    _auth("eyJhIjoxLCJ2IjowfQ.AAAA.BBBB")):
        response = client.get("/api/v1/attempt", headers=headers)
        assert response.status_code == 401 and set(response.get_json()) == {"error", "message"}


def test_error_statuses_are_json(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    bad = client.post("/api/v1/login", data="not json", content_type="text/plain")
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_json"
    unknown = client.post("/api/v1/login", json={"ticket": "<script>alert(1)</script>"})
    assert unknown.status_code == 401 and "<script>" not in unknown.get_data(as_text=True)
    token = _login_and_start(client, attempts[0].ticket)["token"]
    nope = client.put("/api/v1/attempt/answers/%3Cimg%20src%3Dx%3E", headers=_auth(token),
                      json={"seq": 1, "response": {"choice": "A"}})
    assert nope.status_code == 404 and "<img" not in nope.get_data(as_text=True)
    bad_seq = client.put(f"/api/v1/attempt/answers/{items['single_choice'].id}", headers=_auth(token),
                         json={"seq": "1", "response": {"choice": "A"}})
    assert bad_seq.status_code == 400 and bad_seq.get_json()["error"] == "bad_seq"
    bad_time = client.put(f"/api/v1/attempt/answers/{items['single_choice'].id}", headers=_auth(token),
                          json={"seq": 1, "response": {"choice": "A"}, "answered_at": "yesterday"})
    assert bad_time.status_code == 400
    assert client.get("/api/v1/nowhere").get_json()["error"] == "not_found"


def test_submit_is_idempotent_and_closes_answers(client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login(client, attempts[0].ticket)["token"]
    early = client.post("/api/v1/attempt/submit", headers=_auth(token))
    assert early.status_code == 409 and early.get_json()["error"] == "not_started"
    _start(client, token)
    first = client.post("/api/v1/attempt/submit", headers=_auth(token))
    second = client.post("/api/v1/attempt/submit", headers=_auth(token))
    assert first.status_code == second.status_code == 200
    assert first.get_json()["submitted_at"] == second.get_json()["submitted_at"]
    assert second.get_json()["submit_reason"] == "student"
    item = items["single_choice"]
    late = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                      json={"seq": 1, "response": correct_response(item)})
    assert late.status_code == 409 and late.get_json()["error"] == "submitted"
    assert _login(client, attempts[0].ticket)["status"] == "submitted"  # signing in again shows "done"


def test_deadline_auto_submits_on_the_next_request(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    attempt = db.get(Attempt, attempts[0].id)
    attempt.deadline_at = utcnow() - timedelta(minutes=10)
    db.commit()
    view = client.get("/api/v1/attempt", headers=_auth(token)).get_json()
    assert (view["status"], view["submit_reason"], view["remaining_seconds"]) == ("submitted", "deadline", 0)
    item = items["single_choice"]
    late = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                      json={"seq": 1, "response": correct_response(item), "answered_at": utcnow().isoformat()})
    assert late.status_code == 409 and late.get_json()["error"] == "time_up"


def test_heartbeat_reports_the_clock_and_current_item(client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login(client, attempts[0].ticket)["token"]
    before = client.post("/api/v1/attempt/heartbeat", headers=_auth(token), json={"current_item": None}).get_json()
    assert (before["status"], before["deadline_at"], before["remaining_seconds"]) == ("not_started", None, 35 * 60)
    _start(client, token)
    body = client.post("/api/v1/attempt/heartbeat", headers=_auth(token),
                       json={"current_item": items["matching"].id}).get_json()
    assert body["status"] == "in_progress" and body["paused"] is False and body["remaining_seconds"] > 0


def test_heartbeat_accepts_only_items_of_the_form(app, client, setup) -> None:  # type: ignore[no-untyped-def]
    from assessment.presence import Presence

    test_session, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    svc = app.extensions["ctcensus"]
    presence = Presence(svc.redis, svc.redis_prefix)
    assert client.post("/api/v1/attempt/heartbeat", headers=_auth(token),
                       json={"current_item": items["matching"].id}).status_code == 200
    for bogus in ("not-on-this-form", "<img src=x onerror=alert(1)>", items["matching"].id.upper()):
        response = client.post("/api/v1/attempt/heartbeat", headers=_auth(token), json={"current_item": bogus})
        assert response.status_code == 422 and response.get_json()["error"] == "unknown_item"
        assert bogus not in response.get_json()["message"]
    assert presence.read(test_session.id)[attempts[0].id].current_item == items["matching"].id


def test_start_starts_the_clock_once_and_answers_wait_for_it(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    item = items["single_choice"]
    assert client.post("/api/v1/attempt/start").get_json()["error"] == "no_token"
    token = _login(client, attempts[0].ticket)["token"]
    # before the start: no clock runs, no answer is taken, and no item content is sent
    view = client.get("/api/v1/attempt", headers=_auth(token)).get_json()
    assert (view["status"], view["deadline_at"], view["started_at"]) == ("not_started", None, None)
    assert view["items"] == [] and view["item_count"] == len(TYPES) and view["remaining_seconds"] == 35 * 60
    early = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                       json={"seq": 1, "response": correct_response(item)})
    assert early.status_code == 409 and early.get_json()["error"] == "not_started"
    assert db.query(Answer).count() == 0
    db.commit()  # end the read: on SQLite every transaction holds the write lock
    before = utcnow().replace(microsecond=0)
    first = _start(client, token)
    assert first["status"] == "in_progress" and first["remaining_seconds"] == 35 * 60
    assert set(first) >= {"server_time", "deadline_at", "started_at", "remaining_seconds", "time_limit_seconds",
                          "paused", "session_status", "submitted_at"}
    started, deadline = _time(first["started_at"]), _time(first["deadline_at"])
    assert before <= started <= utcnow() and deadline - started == timedelta(minutes=35)
    # idempotent: a double click, a retry, or another device gets the same deadline
    other_token = _login(client, attempts[0].ticket)["token"]
    assert _login(client, attempts[0].ticket)["deadline_at"] == first["deadline_at"]
    second = _start(client, other_token)
    assert (second["started_at"], second["deadline_at"]) == (first["started_at"], first["deadline_at"])
    after = client.get("/api/v1/attempt", headers=_auth(token)).get_json()
    assert after["deadline_at"] == first["deadline_at"] and len(after["items"]) == len(TYPES)
    saved = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                       json={"seq": 1, "response": correct_response(item)})
    assert saved.status_code == 200 and saved.get_json()["seq"] == 1
    db.expire_all()
    stored = db.get(Attempt, attempts[0].id)
    assert stored.started_at == started and stored.deadline_at == deadline


def test_start_counts_extra_time_given_before_it(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    token = _login(client, attempts[1].ticket)["token"]
    proctoring.extend_time(db, attempts[1].id, 7 * 60, actor="proctor1")
    db.commit()
    view = client.get("/api/v1/attempt", headers=_auth(token)).get_json()
    assert (view["deadline_at"], view["remaining_seconds"], view["time_limit_seconds"]) == (None, 42 * 60, 42 * 60)
    body = _start(client, token)
    assert _time(body["deadline_at"]) - _time(body["started_at"]) == timedelta(minutes=42)
    assert body["remaining_seconds"] == 42 * 60


def test_start_in_a_closed_session_or_a_locked_attempt_is_refused(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = setup
    locked_token = _login(client, attempts[0].ticket)["token"]
    closed_token = _login(client, attempts[1].ticket)["token"]
    done_token = _login_and_start(client, attempts[2].ticket)["token"]
    proctoring.lock_attempt(db, attempts[0].id, actor="proctor1")
    db.commit()
    assert client.post("/api/v1/attempt/start", headers=_auth(locked_token)).status_code == 401  # token revoked
    locked = client.post("/api/v1/login", json={"ticket": attempts[0].ticket})
    assert locked.status_code == 403 and locked.get_json()["error"] == "locked"
    proctoring.close_session(db, test_session.id, actor="proctor1")
    db.commit()
    closed = client.post("/api/v1/attempt/start", headers=_auth(closed_token))
    assert closed.status_code == 409 and closed.get_json()["error"] == "session_closed"
    # an attempt that was under way when the session closed: start returns its final state
    over = _start(client, done_token)
    assert (over["status"], over["submit_reason"], over["remaining_seconds"]) == ("submitted", "session_closed", 0)
    db.expire_all()
    assert [db.get(Attempt, a.id).deadline_at is None for a in attempts] == [True, True, False]


def test_start_of_a_locked_attempt_with_a_live_token_is_403(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    token = _login(client, attempts[0].ticket)["token"]
    attempt = db.get(Attempt, attempts[0].id)
    attempt.locked = True  # the flag alone (no token bump): start checks it like sign-in does
    db.commit()
    refused = client.post("/api/v1/attempt/start", headers=_auth(token))
    assert refused.status_code == 403 and refused.get_json()["error"] == "locked"
    db.expire_all()
    assert db.get(Attempt, attempts[0].id).status == "not_started"


def test_start_during_a_pause_starts_the_clock_stopped(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, items = setup
    token = _login(client, attempts[0].ticket)["token"]
    proctoring.pause_session(db, test_session.id, actor="proctor1", now=utcnow() - timedelta(minutes=3))
    db.commit()
    body = _start(client, token)
    assert (body["status"], body["paused"]) == ("in_progress", True)
    assert body["remaining_seconds"] == 35 * 60  # frozen: nothing is charged while paused
    item = items["single_choice"]
    paused = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                        json={"seq": 1, "response": correct_response(item)})
    assert paused.status_code == 409 and paused.get_json()["error"] == "paused"
    # later in the pause the clock is still full; the resume moves the deadline by the time since the start
    db.expire_all()
    later = utcnow() + timedelta(minutes=10)
    attempt = db.get(Attempt, attempts[0].id)
    assert remaining_seconds(attempt, attempt.session, later) == 35 * 60
    proctoring.resume_session(db, test_session.id, actor="proctor1", now=later)
    db.commit()
    db.expire_all()
    deadline = db.get(Attempt, attempts[0].id).deadline_at
    db.commit()
    assert deadline == later + timedelta(minutes=35)
    again = _start(client, token)
    assert _time(again["deadline_at"]) == deadline and again["paused"] is False


def test_ticket_login_is_rate_limited_per_ticket_and_per_ip(app, client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    app.config.update(TICKET_RATE_PER_TICKET=3, TICKET_FAILURES_PER_IP=2)
    for _ in range(3):
        assert client.post("/api/v1/login", json={"ticket": attempts[0].ticket}).status_code == 200
    limited = client.post("/api/v1/login", json={"ticket": attempts[0].ticket})
    assert limited.status_code == 429 and limited.get_json()["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # a whole school behind one address: successful sign-ins never spend the per-IP budget
    assert all(client.post("/api/v1/login", json={"ticket": a.ticket}).status_code == 200 for a in attempts[1:])
    statuses = [client.post("/api/v1/login", json={"ticket": f"AAAA-AAA{c}"}).status_code for c in "234"]
    assert statuses == [401, 401, 429]  # two wrong tickets spend the IP budget: further misses are refused
    # ...but a ticket that exists is always admitted (issue 8 item 4: limit the guesser, not the school)
    assert client.post("/api/v1/login", json={"ticket": attempts[1].ticket}).status_code == 200


@pytest.mark.parametrize("body", ['{"seq": 1, "response": ', "[1, 2]", '{"seq": 1}', '{"seq": 1, "response": null, "x": 1}'])
def test_requests_without_a_valid_token_get_401_before_the_body_is_judged(client, db, setup, body) -> None:  # type: ignore[no-untyped-def]
    """Issue 12.4: authenticate first (as the staff pages do), then judge the body."""
    _, attempts, items = setup
    item_id = items["single_choice"].id
    json_type = {"Content-Type": "application/json"}
    for url, send in ((f"/api/v1/attempt/answers/{item_id}", client.put),
                      (f"/api/v1/attempt/answers/{'x' * 200}", client.put),
                      ("/api/v1/attempt/heartbeat", client.post)):
        response = send(url, data=body, headers=json_type)
        assert (response.status_code, response.get_json()["error"]) == (401, "no_token"), url
        response = send(url, data=body, headers={**json_type, **_auth("forged.token")})
        assert (response.status_code, response.get_json()["error"]) == (401, "bad_token"), url
    # a revoked token (the proctor locked and unlocked the attempt) is no sign-in either
    revoked = _login_and_start(client, attempts[0].ticket)["token"]
    proctoring.lock_attempt(db, attempts[0].id, actor="proctor")
    proctoring.unlock_attempt(db, attempts[0].id, actor="proctor")
    db.commit()
    for url, send in ((f"/api/v1/attempt/answers/{item_id}", client.put), ("/api/v1/attempt/heartbeat", client.post)):
        response = send(url, data=body, headers={**json_type, **_auth(revoked)})
        assert (response.status_code, response.get_json()["error"]) == (401, "token_revoked"), url
        # signed in: now the body is judged
        token = _login(client, attempts[0].ticket)["token"]
        response = send(url, data=body, headers={**json_type, **_auth(token)})
        assert (response.status_code, response.get_json()["error"]) == (400, "bad_json"), url


def test_openapi_documents_every_route(app, client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {rule.rule} is not in openapi.json"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                assert "$ref" in resp or "description" in resp, (path, method, status)


def test_openapi_lists_the_registered_item_types(client) -> None:  # type: ignore[no-untyped-def]
    """Issue 12.1: the item-type enum comes from the registry, the one list of types."""
    from item_bank import types as item_types

    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["components"]["schemas"]["Item"]["properties"]["type"]["enum"] == list(item_types.names())


def test_every_item_type_of_the_bank_has_a_safe_student_view() -> None:
    for item in starter_items():
        view = item.student_view("zh-TW", seed=123)
        leaked = [k for k, p in _walk_keys(view) if k in FORBIDDEN_KEYS and not p.startswith(".images")]
        assert not leaked, (item.id, leaked)


def _parallel(n, call):  # type: ignore[no-untyped-def]
    """Run `call(i)` in n threads released together; the list of results."""
    import threading

    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_wrong_tickets_cannot_pass_the_per_ip_limit(app, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    app.config.update(TICKET_FAILURES_PER_IP=5)
    statuses = _parallel(24, lambda i: app.test_client().post(
        "/api/v1/login", json={"ticket": f"ZZZZ-Z{'23456789ABCDEFGHJKLMNPQR'[i]}ZZ"}).status_code)
    assert sorted(statuses) == [401] * 5 + [429] * 19
    assert app.test_client().post("/api/v1/login", json={"ticket": attempts[0].ticket}).status_code == 200


def test_valid_sign_ins_in_parallel_spend_no_failure_budget(app, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    # A sign-in in flight holds a failure slot until its ticket proves valid, then gives it back.
    app.config.update(TICKET_FAILURES_PER_IP=12)
    tickets = [a.ticket for a in attempts] * 3
    statuses = _parallel(len(tickets), lambda i: app.test_client().post(
        "/api/v1/login", json={"ticket": tickets[i]}).status_code)
    assert statuses == [200] * len(tickets)
    client = app.test_client()
    wrong = [client.post("/api/v1/login", json={"ticket": f"AAAA-A{c}AA"}).status_code for c in "23456789ABCDE"]
    assert wrong == [401] * 12 + [429]  # the whole budget is still there


def test_a_schools_typos_do_not_lock_out_its_valid_tickets(client, setup) -> None:  # type: ignore[no-untyped-def]
    """One NAT address: 150 mistyped tickets in a minute, then every valid ticket still signs in."""
    from webapp.views.api import TICKET_FAILURES_PER_IP

    _, attempts, _ = setup
    assert TICKET_FAILURES_PER_IP == 200
    wrong = [client.post("/api/v1/login", json={"ticket": f"ZZZZ{i:04d}".replace("0", "Z").replace("1", "Y")})
             for i in range(150)]
    assert {r.status_code for r in wrong} == {401}
    assert [client.post("/api/v1/login", json={"ticket": a.ticket}).status_code for a in attempts] == [200] * 3


def test_ipv6_addresses_share_the_failure_budget_of_their_64(app, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = setup
    app.config.update(TICKET_FAILURES_PER_IP=2)

    def login(addr: str, ticket: str) -> int:
        client = app.test_client()
        return client.post("/api/v1/login", json={"ticket": ticket},
                           environ_base={"REMOTE_ADDR": addr}).status_code

    assert login("2001:db8:1:2::1", "AAAA-AAA2") == 401
    assert login("2001:db8:1:2:ffff::9", "AAAA-AAA3") == 401
    assert login("2001:db8:1:2:abcd::5", "AAAA-AAA5") == 429  # same /64: budget spent
    assert login("2001:db8:1:2:abcd::5", attempts[0].ticket) == 200  # a valid ticket is never refused
    assert login("2001:db8:1:3::1", "AAAA-AAA6") == 401  # the next /64 is another network
    assert login("10.0.0.1", "AAAA-AAA4") == 401


def test_a_ticket_that_is_no_text_is_400(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/login", data='{"ticket": "AB\\ud800CD"}', content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "bad_ticket"


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"ticket": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"seq": 1, "response": {"text": "' + "[" * 50 + '"}, "x": {',
    "{not json",
    b"\xff\xfe{}",
])
def test_malformed_json_bodies_are_400_on_every_json_endpoint(client, setup, body) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    item = items["short_answer"]
    calls = [client.post("/api/v1/login", data=body, content_type="application/json"),
             client.put(f"/api/v1/attempt/answers/{item.id}", data=body, content_type="application/json",
                        headers=_auth(token)),
             client.post("/api/v1/attempt/heartbeat", data=body, content_type="application/json",
                         headers=_auth(token))]
    for response in calls:
        assert response.status_code == 400, response.get_data(as_text=True)[:200]
        assert response.get_json()["error"] == "bad_json" and "JSON" in response.get_json()["message"]


def test_brackets_inside_strings_are_text(client, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    item = items["short_answer"]
    text = "[" * 40 + "{" * 40
    response = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                          json={"seq": 1, "response": {"text": text}})
    assert response.status_code == 200 and response.get_json()["seq"] == 1


def test_text_that_is_no_unicode_is_400_and_not_stored(client, db, setup) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = setup
    token = _login_and_start(client, attempts[0].ticket)["token"]
    item = items["short_answer"]
    response = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token), content_type="application/json",
                          data='{"seq": 1, "response": {"text": "3\\ud8002"}}')
    assert response.status_code == 400 and response.get_json()["error"] == "bad_json"
    assert "surrogate" in response.get_json()["message"]
    assert db.query(Answer).count() == 0


def test_a_prankster_behind_the_nat_cannot_lock_out_the_school(client, setup) -> None:  # type: ignore[no-untyped-def]
    """Issue 8 item 4: 205 unknown tickets from one address, then every valid ticket from it still signs in."""
    _, attempts, _ = setup
    wrong = [client.post("/api/v1/login", json={"ticket": f"ZZ{'23456789ABCDEFGH'[i % 16]}{'23456789ABCDEFGH'[i // 16]}-ZZZZ"}
                         ).status_code for i in range(205)]
    assert wrong == [401] * 200 + [429] * 5
    assert [client.post("/api/v1/login", json={"ticket": a.ticket}).status_code for a in attempts] == [200] * 3


def test_client_address_comes_through_the_configured_proxies(app_config, clean_db, setup) -> None:  # type: ignore[no-untyped-def]
    """Behind one load balancer (CTCENSUS_PROXY_COUNT=1) each student's address is X-Forwarded-For's last hop."""
    from webapp import create_app

    def misses(application, forwarded_for: str) -> list[int]:  # type: ignore[no-untyped-def]
        client = application.test_client()
        return [client.post("/api/v1/login", json={"ticket": f"AAAA-AA{c}A"},
                            headers={"X-Forwarded-For": forwarded_for},
                            environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code for c in "23"]

    behind = create_app({**app_config, "PROXY_COUNT": 1})
    direct = create_app({**app_config, "REDIS_PREFIX": app_config["REDIS_PREFIX"] + "d:"})
    try:
        behind.config.update(TICKET_FAILURES_PER_IP=2)
        direct.config.update(TICKET_FAILURES_PER_IP=2)
        assert misses(behind, "203.0.113.1") == [401, 401]
        assert misses(behind, "203.0.113.2") == [401, 401]  # another student's address: its own budget
        assert misses(behind, "6.6.6.6, 203.0.113.1") == [429, 429]  # a forged earlier hop changes nothing
        assert misses(direct, "203.0.113.1") == [401, 401]
        assert misses(direct, "203.0.113.2") == [429, 429]  # no proxy configured: the header is ignored
    finally:
        behind.extensions["ctcensus"].engine.dispose()
        direct.extensions["ctcensus"].engine.dispose()


def test_arrival_is_two_requests_sign_in_and_start_answer_with_the_attempt_document(client, setup) -> None:  # type: ignore[no-untyped-def]
    """Sign-in and start answer with GET /attempt's body, so the player reads nothing in between (issue 10)."""
    _, attempts, _ = setup
    volatile = ("server_time", "remaining_seconds")

    def document(body):  # type: ignore[no-untyped-def]
        return {k: v for k, v in body.items() if k not in volatile + ("token", "token_type")}

    signed_in = client.post("/api/v1/login?lang=en", json={"ticket": attempts[0].ticket}).get_json()
    headers = _auth(signed_in["token"])
    read = client.get("/api/v1/attempt?lang=en", headers=headers).get_json()
    assert document(signed_in) == document(read) and signed_in["items"] == [] and signed_in["item_count"] == 6
    started = client.post("/api/v1/attempt/start?lang=en", headers=headers)
    assert started.status_code == 200
    body = started.get_json()
    assert body["status"] == "in_progress" and len(body["items"]) == 6 and body["lang"] == "en"
    assert document(body) == document(client.get("/api/v1/attempt?lang=en", headers=headers).get_json())
    assert not set(_walk_keys(body["items"])) & FORBIDDEN_KEYS  # no key material in the start's answer
    again = client.post("/api/v1/attempt/start", headers=headers).get_json()  # idempotent: the full path
    assert again["deadline_at"] == body["deadline_at"] and len(again["items"]) == 6
    assert client.post("/api/v1/attempt/start?lang=xx").status_code == 401  # authentication first
    assert client.post("/api/v1/attempt/start?lang=xx", headers=headers).get_json()["error"] == "bad_lang"
