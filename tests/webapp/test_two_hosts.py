"""Two app hosts: two real `ctcensus serve` processes on one database and one Redis (issue 10, item 7).

Production hosts share nothing but PostgreSQL, Redis and SECRET_KEY, so each server
here has an instance folder of its own. Both CI configurations run it: on PostgreSQL +
Redis (DATABASE_URL / REDIS_URL), and on the embedded default with the suite's SQLite
file and the suite's embedded Redis given to both servers explicitly (two processes on
one machine may share an SQLite file in WAL mode; left to itself each `ctcensus serve`
would start an embedded Redis of its own, which is why the embedded default is one host).

Every request of a student goes to the other host than the one before; the proctor
acts on one host and the student sees it on the other. SQL state must be right at
once on either host; the live status (presence) is written by a background thread
per worker, so the proctor's view of it may lag: it must be right within one poll of
the proctor page (`PRESENCE_BOUND`).
"""
from __future__ import annotations

import json
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from assessment.accounts import create_user
from assessment.hotstate import embedded_redis_url
from assessment.models import Answer, ItemRecord
from loadtest.plan import make_response
from loadtest.stack import start_servers
from tests.live import seed_small_class

PRESENCE_BOUND = 5.0  # seconds: the proctor page polls the status every 5 s (webapp/views/proctor.py)
TIMEOUT = 10.0
_CONFIG = re.compile(r'<script type="application/json" id="console-config">(.*?)</script>', re.S)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Student:
    """One student's client: the ticket, the token and every acknowledged seq per item."""

    ticket: str
    token: str = ""
    attempt_id: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Hosts:
    """The two hosts; `next()` is the host of a student's next request (always the other one)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self._turn = 0

    def next(self) -> str:
        self._turn += 1
        return self.urls[self._turn % 2]


def _eventually(check: Callable[[], str | None], within: float) -> None:
    """Wait until `check()` returns None (nothing wrong), at most `within` seconds; fail with its last complaint."""
    ends = time.monotonic() + within
    while True:
        problem = check()
        if problem is None:
            return
        if time.monotonic() > ends:
            pytest.fail(f"after {within} s: {problem}")
        time.sleep(0.1)


@pytest.fixture
def two_hosts(db: Any, database_url: str, redis_url: str, redis_prefix: str, instance_path: Path,
              tmp_path: Path) -> Iterator[tuple[list[str], int, list[str]]]:
    """A class of three with an open session and a proctor; two servers on it. (host URLs, session id, tickets)."""
    from assessment import sessions

    klass, form = seed_small_class(db)
    test_session = sessions.create_session(db, class_id=klass.id, form_id=form.id, minutes=35,
                                           window_code="113-test", actor="test")
    create_user(db, "proc", "proctor-pass", "proctor", school_source_id="es-test")
    db.commit()
    session_id = test_session.id
    tickets = [row.ticket for row in sessions.ticket_sheet(db, session_id)]
    db.rollback()  # end the read (on SQLite every transaction is BEGIN IMMEDIATE: it would hold the write lock)
    shared = {"DATABASE_URL": database_url, "REDIS_URL": redis_url or embedded_redis_url(instance_path),
              "CTCENSUS_REDIS_PREFIX": f"{redis_prefix}hosts:", "SECRET_KEY": secrets.token_hex(32),
              "CTCENSUS_LOGIN_RATE_PER_MINUTE": "3", "CTCENSUS_THREADS": "4"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTCENSUS_")}
    homes = [tmp_path / "host-a", tmp_path / "host-b"]
    for home in homes:
        home.mkdir()
    with ExitStack() as cleanup:
        servers = start_servers([({**env, **shared, "CTCENSUS_INSTANCE": str(home)}, home / "server.log")
                                 for home in homes], workers=1, cleanup=cleanup)
        yield [s.url for s in servers], session_id, tickets


def _json(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} " \
                                           f"{response.text[:300]}"
    return response.json()


def _staff_login(staff: requests.Session, page_host: str, post_host: str, password: str) -> requests.Response:
    """The sign-in form from one host, posted to the other (the session cookie carries the CSRF token)."""
    page = staff.get(f"{page_host}/login", timeout=TIMEOUT)
    match = _CSRF.search(page.text)
    assert match, page.text[:300]
    return staff.post(f"{post_host}/login", data={"username": "proc", "password": password,
                                                  "csrf_token": match[1]}, allow_redirects=False, timeout=TIMEOUT)


def _status(staff: requests.Session, host: str, session_id: int) -> dict[str, Any]:
    body: dict[str, Any] = _json(staff.get(f"{host}/proctor/api/sessions/{session_id}/status", timeout=TIMEOUT))
    return body


def _row(status: dict[str, Any], student: Student) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in status["students"] if r["attempt_id"] == student.attempt_id)
    return row


def _save(host: str, student: Student, item: dict[str, Any], seq: int, rng: random.Random) -> requests.Response:
    response = requests.put(f"{host}/api/v1/attempt/answers/{item['id']}", headers=student.headers(),
                            json={"seq": seq, "response": make_response(item, rng)}, timeout=TIMEOUT)
    if response.status_code == 200:
        student.acked[item["id"]] = max(student.acked.get(item["id"], 0), response.json()["seq"])
    return response


def test_a_student_alternating_between_two_hosts_loses_nothing_and_the_proctor_sees_it_from_either(
        two_hosts: tuple[list[str], int, list[str]], db: Any) -> None:
    urls, session_id, tickets = two_hosts
    a, b = urls
    hosts = Hosts(urls)
    rng = random.Random(7)
    s1, s2, s3 = (Student(t) for t in tickets)

    # Staff: the sign-in form from A, posted to B; B's cookie then works on A (one SECRET_KEY).
    staff = requests.Session()
    assert _staff_login(staff, a, b, "proctor-pass").status_code in (302, 303)
    live = staff.get(f"{a}/proctor/sessions/{session_id}", timeout=TIMEOUT)
    assert live.status_code == 200, live.text[:300]
    match = _CONFIG.search(live.text)
    assert match
    csrf = {"X-CSRF-Token": json.loads(match[1])["csrf"]}

    def act(host: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return _json(staff.post(f"{host}/proctor/api/{path}", headers=csrf, json=body or {}, timeout=TIMEOUT))

    def sign_in(student: Student) -> None:
        body = _json(requests.post(f"{hosts.next()}/api/v1/login", json={"ticket": student.ticket}, timeout=TIMEOUT))
        student.token, student.attempt_id = body["token"], body["attempt_id"]

    def seen_everywhere(check: Callable[[dict[str, Any]], str | None]) -> None:
        """`check` holds for the status read from each host, within the presence bound."""
        for host in urls:
            _eventually(lambda host=host: check(_status(staff, host, session_id)), PRESENCE_BOUND)

    # Sign in on one host, read and start on the others.
    sign_in(s1)
    sign_in(s2)
    seen_everywhere(lambda st: None if st["counts"]["joined"] == 2 and not _row(st, s1)["started"]
                    else f"joined {st['counts']}")
    before = _json(requests.get(f"{hosts.next()}/api/v1/attempt", headers=s1.headers(), timeout=TIMEOUT))
    assert before["status"] == "not_started" and before["items"] == []
    for student in (s1, s2):
        assert _json(requests.post(f"{hosts.next()}/api/v1/attempt/start", headers=student.headers(),
                                   timeout=TIMEOUT))["status"] == "in_progress"
        student.items = _json(requests.get(f"{hosts.next()}/api/v1/attempt", headers=student.headers(),
                                           timeout=TIMEOUT))["items"]
    assert len(s1.items) == 6

    # Saves alternate; the status from either host has every save at once (SQL) and the item (presence).
    for n, item in enumerate(s1.items[:3], start=1):
        _json(_save(hosts.next(), s1, item, 1, rng))
        for host in urls:
            row = _row(_status(staff, host, session_id), s1)
            assert row["answered"] == n and row["last_saved"], (host, row)
        seen_everywhere(lambda st, item=item, n=n: None if (_row(st, s1)["current_item"], _row(st, s1)["current_position"])
                        == (item["id"], n) else f"current {_row(st, s1)['current_item']} != {item['id']}")
    _json(_save(hosts.next(), s2, s2.items[0], 1, rng))
    beat = requests.post(f"{hosts.next()}/api/v1/attempt/heartbeat", headers=s1.headers(),
                         json={"current_item": s1.items[3]["id"]}, timeout=TIMEOUT)
    _json(beat)
    seen_everywhere(lambda st: None if _row(st, s1)["current_item"] == s1.items[3]["id"] else "heartbeat's item not seen")

    # A pause on one host stops saves on the other at once; a resume there lets the same save through.
    assert act(a, f"sessions/{session_id}/pause")["status"] == "paused"
    paused = _save(b, s1, s1.items[3], 1, rng)
    assert paused.status_code == 409 and paused.json()["error"] == "paused", paused.text
    assert _status(staff, b, session_id)["session"]["status"] == "paused"
    assert act(b, f"sessions/{session_id}/resume")["status"] == "open"
    _json(_save(a, s1, s1.items[3], 1, rng))

    # Extra time given on B is on the clock A answers with.
    clock = _json(requests.get(f"{a}/api/v1/attempt", headers=s2.headers(), timeout=TIMEOUT))
    act(b, f"attempts/{s2.attempt_id}/extend", {"seconds": 300})
    extended = _json(requests.get(f"{a}/api/v1/attempt", headers=s2.headers(), timeout=TIMEOUT))
    assert extended["remaining_seconds"] >= clock["remaining_seconds"] + 290, (clock, extended)

    # Locked on A: refused on B at once; unlocked on B: signing in again on A resumes with every answer.
    act(a, f"attempts/{s1.attempt_id}/lock")
    refused = _save(b, s1, s1.items[4], 1, rng)
    assert refused.status_code in (401, 403), refused.text
    assert _status(staff, b, session_id)["counts"]["locked"] == 1
    act(b, f"attempts/{s1.attempt_id}/unlock")
    sign_in(s1)
    resumed = _json(requests.get(f"{hosts.next()}/api/v1/attempt", headers=s1.headers(), timeout=TIMEOUT))
    assert {i: v["seq"] for i, v in resumed["answers"].items()} == s1.acked

    # A changed answer, a replay of it (its ack was lost) and a stale seq, each on another host.
    first = s1.items[0]
    assert _json(_save(hosts.next(), s1, first, 2, rng))["seq"] == 2
    assert _json(_save(hosts.next(), s1, first, 2, rng))["seq"] == 2
    assert _json(_save(hosts.next(), s1, first, 1, rng))["seq"] == 2
    _json(_save(hosts.next(), s1, s1.items[4], 1, rng))

    for student in (s1, s2):
        done = _json(requests.post(f"{hosts.next()}/api/v1/attempt/submit", headers=student.headers(),
                                   timeout=TIMEOUT))
        assert done["status"] == "submitted"
    for host in urls:
        status = _status(staff, host, session_id)
        assert status["counts"] == {**status["counts"], "students": 3, "joined": 2, "in_progress": 0, "done": 2,
                                    "locked": 0}, (host, status["counts"])
        assert [(_row(status, s)["answered"], _row(status, s)["done"]) for s in (s1, s2)] == [(5, True), (1, True)]

    # Every acknowledged answer is stored exactly once, with the newest acknowledged seq.
    db.expire_all()
    for student in (s1, s2):
        rows = db.execute(select(ItemRecord.item_id, Answer.seq).join(Answer, Answer.item_pk == ItemRecord.pk)
                          .where(Answer.attempt_id == student.attempt_id)).all()
        assert sorted(rows) == sorted(student.acked.items())
    db.rollback()

    # Rate limits count in Redis across both hosts: 10 sign-ins per ticket a minute, then 429 on either.
    for _ in range(10):
        sign_in(s3)
    limited = requests.post(f"{hosts.next()}/api/v1/login", json={"ticket": s3.ticket}, timeout=TIMEOUT)
    assert limited.status_code == 429, limited.text
    # Staff: 3 failures of (username, address) a minute (CTCENSUS_LOGIN_RATE_PER_MINUTE), on A, B, A; then B refuses.
    guesser = requests.Session()
    assert [_staff_login(guesser, a, host, "wrong").status_code for host in (a, b, a)] == [401, 401, 401]
    assert _staff_login(guesser, a, b, "wrong").status_code == 429

    # Signing out on one host ends the session on the other, also for a copy of the cookie.
    copy = staff.cookies.get_dict()
    assert "session" in copy
    assert staff.post(f"{b}/logout", headers=csrf, allow_redirects=False, timeout=TIMEOUT).status_code in (302, 303)
    after = requests.get(f"{a}/proctor/api/sessions/{session_id}/status", cookies=copy, allow_redirects=False,
                         timeout=TIMEOUT)
    assert after.status_code == 401, after.text[:200]  # the live view's JSON: sign in again
