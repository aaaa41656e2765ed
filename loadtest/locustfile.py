"""Test-day load: students log in with tickets, start, answer every item with saves and retries, submit.

Talks HTTP only, as the player does: login, attempt, start, answers, submit.
Tickets come from `ctcensus session create ... --json` output (one session,
a list, or JSON lines; `loadtest/prepare.sh` writes a list):
    loadtest/prepare.sh 5 1 40 > tickets.json
    CTCENSUS_TICKETS=tickets.json locust -f loadtest/locustfile.py --host http://127.0.0.1:5000 \
        --headless -u 1000 -r 100 -t 3m
Each simulated student answers at the census pace (~0.05 requests/s while
answering), re-reads its attempt now and then (a reload), and submits at the end.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import threading
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

_tickets: list[str] = []
_next = itertools.count()
_lock = threading.Lock()


@events.init.add_listener
def _load_tickets(environment: Any, **_kw: Any) -> None:
    path = os.environ.get("CTCENSUS_TICKETS", "tickets.json")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    decoder, pos, sessions = json.JSONDecoder(), 0, []
    while pos < len(text):  # one JSON document, a list, or JSON lines
        if text[pos].isspace():
            pos += 1
            continue
        doc, pos = decoder.raw_decode(text, pos)
        sessions.extend(doc if isinstance(doc, list) else [doc])
    for session in sessions:
        _tickets.extend(s["ticket"] for s in session["tickets"])
    if not _tickets:
        raise SystemExit(f"{path}: no tickets found (expected `ctcensus session create --json` output)")


def _wait_bounds() -> tuple[float, float]:
    raw = os.environ.get("CTCENSUS_LOAD_WAIT", "10,30")
    try:
        low, high = (float(x) for x in raw.split(","))
    except ValueError:
        raise SystemExit(f"CTCENSUS_LOAD_WAIT={raw!r}: expected two seconds values, e.g. 10,30") from None
    return low, high


def _take_ticket() -> str | None:
    with _lock:
        i = next(_next)
    return _tickets[i] if i < len(_tickets) else None


def make_response(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A well-formed (not necessarily right) response for any item type."""
    kind = item["type"]
    if kind == "single_choice":
        return {"choice": rng.choice(item["options"])["id"]}
    if kind == "multiple_response":
        ids = [o["id"] for o in item["options"]]
        return {"choices": rng.sample(ids, rng.randint(1, len(ids)))}
    if kind == "ordering":
        ids = [o["id"] for o in item["options"]]
        rng.shuffle(ids)
        return {"order": ids}
    if kind == "matching":
        rights = [r["id"] for r in item["right"]]
        return {"pairs": [[left["id"], rng.choice(rights)] for left in item["left"]]}
    if kind == "short_answer":
        return {"text": str(rng.randint(0, 20))}
    if kind == "grid_path":
        return {"moves": "".join(rng.choice("URDL") for _ in range(rng.randint(1, 8)))}
    raise ValueError(f"unknown item type {kind!r}")


class Student(FastHttpUser):
    """One student at a Chromebook."""

    # thinking time per answer: ~0.05 requests/s; CTCENSUS_LOAD_WAIT="0.05,0.2" for a quick run
    wait_time = between(*_wait_bounds())

    def on_start(self) -> None:
        ticket = _take_ticket()
        if ticket is None:
            raise StopUser()
        self.rng = random.Random(ticket)
        with self.client.post("/api/v1/login", json={"ticket": ticket}, name="login", catch_response=True) as r:
            if r.status_code != 200 or "token" not in (r.json() or {}):
                r.failure(f"login {r.status_code}: {r.text[:200]}")
                raise StopUser()
            self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        self._load()  # the player reads the clock and the item count while the student reads the instructions
        with self.client.post("/api/v1/attempt/start", headers=self.headers, name="start",
                              catch_response=True) as r:
            # login does not start the clock: "start the test" does (answers before it are 409 not_started)
            if r.status_code != 200 or r.json().get("status") != "in_progress" or not r.json().get("deadline_at"):
                r.failure(f"start {r.status_code}: {r.text[:200]}")
                raise StopUser()
        self.items = list(self._load()["items"])  # the items arrive only once the clock runs
        if not self.items:
            raise StopUser()  # _load has recorded the failure
        self.seq: dict[str, int] = {}
        self.position = 0

    def _load(self) -> dict[str, Any]:
        with self.client.get("/api/v1/attempt", headers=self.headers, name="attempt", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"attempt {r.status_code}")
                raise StopUser()
            body: dict[str, Any] = r.json()
            if any(k in json.dumps(body) for k in ('"key"', '"rationale"', '"accepted"')):
                r.failure("answer key material in the student payload")
            elif body.get("status") == "in_progress" and not body.get("items"):
                r.failure("a started attempt without items")
            return body

    @task(20)
    def answer(self) -> None:
        if self.position >= len(self.items):
            self.submit()
            return
        item = self.items[self.position]
        self.position += 1
        self.seq[item["id"]] = self.seq.get(item["id"], 0) + 1
        body = {"seq": self.seq[item["id"]], "response": make_response(item, self.rng)}
        with self.client.put(f"/api/v1/attempt/answers/{item['id']}", json=body, headers=self.headers,
                             name="answer", catch_response=True) as r:
            if r.status_code != 200 or r.json().get("seq") != body["seq"]:
                r.failure(f"answer not acknowledged: {r.status_code} {r.text[:200]}")

    @task(1)
    def reload(self) -> None:
        self._load()

    def submit(self) -> None:
        with self.client.post("/api/v1/attempt/submit", headers=self.headers, name="submit", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"submit {r.status_code}")
        raise StopUser()
