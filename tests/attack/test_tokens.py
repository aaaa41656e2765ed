"""Forged and replayed credentials: bearer tokens (bad signature, tampered, foreign key, expired, revoked,
after submit) and forged staff session cookies. Each is refused as docs/answer-protocol.md says, never with data."""
from __future__ import annotations

import base64
import json
import time

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.engine import Engine

from assessment.tickets import TOKEN_MAX_AGE, issue_token
from tests.assessment.factories import correct_response

from .conftest import World, bearer, snapshot, staff_client, student_token

SECRET = "test-secret-key-0123456789"  # tests/conftest.py app_config
# Every operation that takes a bearer token, as (method, path, JSON body)
TOKEN_OPERATIONS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/v1/attempt", None),
    ("POST", "/api/v1/attempt/start", None),
    ("POST", "/api/v1/attempt/heartbeat", {"current_item": None}),
    ("POST", "/api/v1/attempt/submit", None),
]


def _operations(world: World) -> list[tuple[str, str, dict[str, object] | None]]:
    item = world.items["single_choice"]
    return [*TOKEN_OPERATIONS, ("PUT", f"/api/v1/attempt/answers/{item.id}",
                                {"seq": 1, "response": correct_response(item)})]


def _refused(client: FlaskClient, world: World, headers: dict[str, str], status: int, error: str) -> None:
    """Every token operation answers `status` / `error` with nothing but {error, message}."""
    for method, path, body in _operations(world):
        response = client.open(path, method=method, headers=headers, json=body)
        assert response.status_code == status, (method, path, response.get_json())
        assert response.mimetype == "application/json"
        payload = response.get_json()
        assert set(payload) == {"error", "message"} and payload["error"] == error, (method, path, payload)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_forged_tampered_and_foreign_key_tokens_are_401(client: FlaskClient, two_schools: World, watch: Engine) -> None:
    world = two_schools
    token = student_token(client, world.a.tickets[0])
    payload, stamp, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    # the claims of school B's attempt under A's signature (a signed-payload swap)
    swapped = f"{_b64(json.dumps({'a': world.b.attempt_ids[0], 'v': 0}).encode())}.{stamp}.{signature}"
    # the right claims, signed with another key (a key guessed or taken from another deployment)
    other_key = issue_token("not-the-secret-key-of-this-app", world.b.attempt_ids[0], 0)
    # unsigned ("none" algorithm) and empty parts
    unsigned = f"{_b64(json.dumps({'a': world.b.attempt_ids[0], 'v': 0}).encode())}.{stamp}."
    before = snapshot(watch)
    for forged in (flipped, swapped, other_key, unsigned, f"{payload}..", "....", "x" * 5000, token + "."):
        _refused(client, world, bearer(forged), 401, "bad_token")
    for headers in ({}, {"Authorization": token}, {"Authorization": f"Basic {token}"}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer\t"}, {"X-Token": token}):
        _refused(client, world, headers, 401, "no_token")
    assert snapshot(watch) == before  # nothing stored, started or submitted by any of them
    # the real token still works: refusals revoked nothing
    assert client.get("/api/v1/attempt", headers=bearer(token)).get_json()["attempt_id"] == world.a.attempt_ids[0]


def test_a_token_in_the_query_string_or_a_cookie_is_no_token(client: FlaskClient, two_schools: World) -> None:
    token = student_token(client, two_schools.a.tickets[0])
    assert client.get(f"/api/v1/attempt?token={token}").status_code == 401
    client.set_cookie("token", token)
    client.set_cookie("Authorization", f"Bearer {token}")
    assert client.get("/api/v1/attempt").get_json()["error"] == "no_token"


def test_an_expired_token_is_401_token_expired(client: FlaskClient, two_schools: World,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    world = two_schools
    student_token(client, world.a.tickets[0])
    issued = time.time() - TOKEN_MAX_AGE - 60
    with monkeypatch.context() as patch:
        patch.setattr("itsdangerous.timed.time.time", lambda: issued)
        old = issue_token(SECRET, world.a.attempt_ids[0], 0)
    assert URLSafeTimedSerializer(SECRET, salt="ctcensus.attempt-token.v1").loads(old)  # well signed, only old
    _refused(client, world, bearer(old), 401, "token_expired")


def test_tokens_issued_before_a_lock_stay_revoked_after_the_unlock(app: Flask, client: FlaskClient,
                                                                   two_schools: World, watch: Engine) -> None:
    """The proctor's lock bumps token_version: every earlier token is 401 token_revoked for good; a new sign-in works."""
    world = two_schools
    first = student_token(client, world.a.tickets[0])
    second = client.post("/api/v1/login", json={"ticket": world.a.tickets[0]}).get_json()["token"]  # a 2nd device
    proctor, csrf = staff_client(app, "a-proctor")
    attempt = world.a.attempt_ids[0]
    assert proctor.post(f"/proctor/api/attempts/{attempt}/lock", headers={"X-CSRF-Token": csrf}).status_code == 200
    for token in (first, second):
        _refused(client, world, bearer(token), 401, "token_revoked")
    locked = client.post("/api/v1/login", json={"ticket": world.a.tickets[0]})
    assert locked.status_code == 403 and locked.get_json()["error"] == "locked" and "token" not in locked.get_json()
    assert proctor.post(f"/proctor/api/attempts/{attempt}/unlock", headers={"X-CSRF-Token": csrf}).status_code == 200
    before = snapshot(watch, "answers", "attempts")
    for token in (first, second):  # unlocking does not bring old tokens back
        _refused(client, world, bearer(token), 401, "token_revoked")
    assert snapshot(watch, "answers", "attempts") == before
    fresh = student_token(client, world.a.tickets[0], start=False)
    item = world.items["ordering"]
    saved = client.put(f"/api/v1/attempt/answers/{item.id}", headers=bearer(fresh),
                       json={"seq": 1, "response": correct_response(item)})
    assert saved.status_code == 200 and saved.get_json() == {"item_id": item.id, "seq": 1}


def test_a_token_after_submit_changes_nothing(client: FlaskClient, two_schools: World, watch: Engine) -> None:
    world = two_schools
    token = student_token(client, world.a.tickets[0])
    item = world.items["short_answer"]
    url = f"/api/v1/attempt/answers/{item.id}"
    assert client.put(url, headers=bearer(token), json={"seq": 3, "response": {"text": "7"}}).status_code == 200
    submitted = client.post("/api/v1/attempt/submit", headers=bearer(token))
    assert submitted.status_code == 200 and submitted.get_json()["status"] == "submitted"
    before = snapshot(watch, "answers", "attempts")
    later = client.put(url, headers=bearer(token), json={"seq": 4, "response": {"text": "8"}})
    assert later.status_code == 409 and later.get_json()["error"] == "submitted"
    other = world.items["single_choice"]
    first_time = client.put(f"/api/v1/attempt/answers/{other.id}", headers=bearer(token),
                            json={"seq": 1, "response": correct_response(other)})
    assert first_time.status_code == 409 and first_time.get_json()["error"] == "submitted"
    replay = client.put(url, headers=bearer(token), json={"seq": 3, "response": {"text": "anything"}})
    assert replay.status_code == 200 and replay.get_json()["seq"] == 3  # documented: a replay stays idempotent
    again = client.post("/api/v1/attempt/start", headers=bearer(token))
    assert again.status_code == 200 and again.get_json()["status"] == "submitted"
    assert snapshot(watch, "answers", "attempts") == before
    view = client.get("/api/v1/attempt", headers=bearer(token)).get_json()
    assert view["attempt_id"] == world.a.attempt_ids[0] and view["answers"][item.id]["response"] == {"text": "7"}


def _forged_session_cookie(app: Flask, secret: str, data: dict[str, object]) -> str:
    """A Flask session cookie holding `data`, signed with `secret` (the app's own or a guess)."""
    serializer = SecureCookieSessionInterface().get_signing_serializer(_with_key(app, secret))
    assert serializer is not None
    return str(serializer.dumps(data))


def _with_key(app: Flask, secret: str) -> Flask:
    fake = Flask("forger")
    fake.secret_key = secret
    fake.config["SECRET_KEY_FALLBACKS"] = []
    return fake


def test_a_forged_staff_cookie_is_no_login(app: Flask, client: FlaskClient, two_schools: World, watch: Engine) -> None:
    """A session cookie for the admin signed with a guessed key, or the right key with a stale version, opens nothing."""
    world = two_schools
    from assessment.models import User
    from webapp.extensions import services

    with app.app_context():
        session = services().sessions()
        root = session.query(User).filter_by(username="root").one()
        uid, version = root.id, root.session_version
        session.close()
    forged = {"uid": uid, "sv": version, "_csrf": "known-to-the-forger"}
    real_key = app.secret_key
    assert isinstance(real_key, str)
    before = snapshot(watch)
    for key, claims in (("guessed-secret-key", forged), (real_key, {**forged, "sv": version + 1}),
                        (real_key, {**forged, "uid": str(uid)})):
        client.set_cookie("session", _forged_session_cookie(app, key, claims))
        page = client.get(f"/proctor/sessions/{world.b.session_id}")
        assert page.status_code == 302 and page.headers["Location"].startswith("/login"), key
        action = client.post(f"/proctor/api/sessions/{world.b.session_id}/close",
                             headers={"X-CSRF-Token": "known-to-the-forger"})
        assert action.status_code == 401 and action.get_json()["error"] == "unauthorized"
        status = client.get(f"/proctor/api/sessions/{world.b.session_id}/status")
        assert status.status_code == 401 and "students" not in status.get_json()
    assert snapshot(watch) == before
    # the control: the same forger with the app's key and the user's current version is signed in
    client.set_cookie("session", _forged_session_cookie(app, real_key, forged))
    assert client.get(f"/proctor/sessions/{world.b.session_id}").status_code == 200
