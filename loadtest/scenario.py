"""The census scenario as locust users, HTTP only: students, proctors polling their live view, the bureau.

A `Student` signs in with a ticket at its class's wave (the answer is the
attempt document), starts (the answer carries the items), then thinks (sending
the player's heartbeat one interval after its last contact) and answers; now and then
it changes an earlier answer (a newer seq), re-sends a save with the same seq
(a lost acknowledgement: must not count twice) or reloads the attempt, which
must return every acknowledged answer. It submits when it has answered
everything, or when its sitting time is over (`CensusState.sitting` seconds
after its sign-in: classes end in the waves they started in), or when the run
is stopped. Every acknowledgement goes into the shared
`AckLedger` for the referee. A `Proctor` signs in as staff and polls its class's
live status every 5 s, as the console does; a `Bureau` user polls an overview
URL (`--overview-url`). A server that asks to wait (429/503 with Retry-After)
is obeyed, as the player does, and not counted as a failure. A request the
server never answered because it had closed the kept-alive connection (its
keep-alive is shorter than a think time) is sent again on a new one, as
browsers do; geventhttpclient does that itself for GET and PUT only, and every
POST of the student API is idempotent by the answer protocol. Such resends are
counted, not timed.

For a fault run (loadtest/faults.py) the state also says when saves are cut
off by the client (`drop_until`: the save is sent on a socket of its own that
is closed before the reply, then re-sent with the same seq) and asks each
student to prove it can resume (`resume_check`): before submitting it signs in
again with its ticket and its attempt must hold every acknowledged answer.
Sign-in, start, the attempt reads and submit are re-sent after a 5xx or a
connection error, as the player does (it treats them as an outage), so a fault
does not end a student's sitting.

With several app hosts (`CensusState.hosts`, `--hosts`) every user sends each request to the next
host in turn, as a load balancer without sticky sessions may.

The users are abstract: `user_classes(state)` binds them to one run's
`CensusState` (the headless runner, loadtest/run.py); loadtest/locustfile.py
binds them for interactive locust.
"""
from __future__ import annotations

import json
import math
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import gevent
from gevent.event import Event
from locust import FastHttpUser, User, constant, task
from locust.contrib.fasthttp import FAILURE_EXCEPTIONS
from locust.exception import StopUser

from .faults import cut_short
from .plan import heartbeat_seconds, make_response
from .referee import AckLedger

__all__ = ["Bureau", "CensusState", "Proctor", "ProctorPlan", "Student", "StudentPlan", "make_response",
           "user_classes"]

PROCTOR_POLL_SECONDS = 5.0  # the live class view's refresh (webapp/views/proctor.py POLL_SECONDS)
OVERVIEW_POLL_SECONDS = 15.0
SAVE_TRIES = 4  # a save that fails with a 5xx or a dropped connection is re-sent, as the player's queue does
MAX_WAITS = 20  # 429/503 + Retry-After answers obeyed per request before it counts as failed
MAX_RESENDS = 2  # sends again after the server closed a kept-alive connection without answering
PATIENT_TRIES = 8  # sign-in, start, attempt reads and submit after a 5xx or connection error (~40 s in all)
_CLOSED = ("HTTPConnectionClosed", "ConnectionResetError", "BrokenPipeError")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_KEY_MATERIAL = ('"key"', '"rationale"', '"accepted"')


@dataclass(frozen=True)
class StudentPlan:
    ticket: str
    login_at: float = 0.0  # seconds after the run's start


@dataclass(frozen=True)
class ProctorPlan:
    session_id: int
    username: str
    password: str
    start_at: float = 0.0


class CensusState:
    """What one run's users share: who plays whom and when, the think time, the acknowledgements, the end."""

    def __init__(self, students: Sequence[StudentPlan], *, think: tuple[float, float] = (10.0, 30.0),
                 sitting: float | None = None, proctors: Sequence[ProctorPlan] = (), overview_url: str | None = None,
                 bureau: tuple[str, str] | None = None, change_rate: float = 0.1, retry_rate: float = 0.05,
                 reload_rate: float = 0.05, heartbeats: bool = True, hosts: Sequence[str] = ()) -> None:
        self.students = list(students)
        self.hosts = list(hosts)  # several app hosts: each user sends its requests to them in turn
        self.proctors = list(proctors)
        self.think = think
        self.sitting = sitting  # seconds from sign-in to submit; None: until every item is answered
        self.heartbeat_every = heartbeat_seconds(think) if heartbeats else None
        self.overview_url = overview_url
        self.bureau = bureau
        self.change_rate, self.retry_rate, self.reload_rate = change_rate, retry_rate, reload_rate
        self.ledger = AckLedger()
        self.counts: Counter[str] = Counter()  # saves by kind, reloads, waits
        self.ending = Event()  # set: every user winds up at once (students submit) and stops
        self.drop_until = 0.0  # monotonic time: until then every save is cut off by the client after sending
        self.dropped: list[float] = []  # monotonic times of the saves cut off
        self.resume_check = False  # students sign in again before submitting and check their answers
        self._next_student = iter(self.students)
        self._next_proctor = iter(self.proctors)
        self._first_host = 0
        self.t0 = time.monotonic()

    def first_host(self) -> int:
        """Where a new user sends its first request: the hosts in turn, so each starts as many."""
        self._first_host += 1
        return self._first_host

    def start(self) -> None:
        """The run starts now (login times count from here)."""
        self.t0 = time.monotonic()

    def take_student(self) -> StudentPlan | None:
        return next(self._next_student, None)

    def take_proctor(self) -> ProctorPlan | None:
        return next(self._next_proctor, None)

    def wait_until(self, offset: float) -> bool:
        """Sleep until `offset` seconds after the start; False if the run ends first."""
        return not self.ending.wait(max(0.0, self.t0 + offset - time.monotonic()))


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no response (connection error)
    body: Any = None  # the parsed JSON (or the text), None when the request failed

    @property
    def ok(self) -> bool:
        return self.body is not None

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status >= 500


def _body_cut(response: Any) -> bool:
    """Whether the body of a reply whose headers arrived was cut off (or could not be read at all)."""
    try:
        body = response.content
    except FAILURE_EXCEPTIONS:
        return True
    return cut_short(response.headers.get("Content-Length"), body)


def _retry_after(response: Any) -> float | None:
    if response.status_code not in (429, 503) or not response.headers:
        return None
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


class _Client(FastHttpUser):
    """Requests with one failure rule: the expected status and a body check, obeying Retry-After."""

    abstract = True
    state: CensusState
    wait_time = constant(0)  # users wait on `state.ending` themselves, so the end of a run interrupts them
    rng: random.Random
    turn: int | None = None  # with several hosts: the host of this user's next request

    def url(self, path: str) -> str:
        """`path` on the host whose turn it is (every request goes to the next host); as is with one host."""
        hosts = self.state.hosts
        if not hosts or path.startswith(("http://", "https://")):
            return path
        if self.turn is None:
            self.turn = self.state.first_host()
        self.turn += 1
        return hosts[self.turn % len(hosts)] + path

    def patient(self, method: str, path: str, name: str, **kwargs: Any) -> Reply:
        """`call`, sent again after a 5xx or a connection error (with a growing pause), as the player does."""
        for attempt in range(PATIENT_TRIES):
            reply = self.call(method, path, name if attempt == 0 else f"{name} (retry)", **kwargs)
            if reply.ok or not reply.retryable:
                return reply
            gevent.sleep(min(0.5 * 2**attempt, 8.0) * self.rng.uniform(1.0, 1.5))
        return reply

    def call(self, method: str, path: str, name: str, *, expect: Sequence[int] = (200,),
             check: Callable[[Any], str | None] | None = None, as_json: bool = True, **kwargs: Any) -> Reply:
        """One request (repeated while the server asks to wait); a wrong status or body is recorded as failed."""
        waits = resends = 0
        url = self.url(path)
        while True:
            with self.client.request(method, url, name=name, catch_response=True, **kwargs) as r:
                status = r.status_code or 0
                closed = status == 0 and type(getattr(r, "error", None)).__name__ in _CLOSED
                if status and r.headers and _body_cut(r):
                    closed = True  # the headers came, then the connection closed: no reply either
                if closed and resends < MAX_RESENDS:
                    r.request_meta["context"]["resent"] = True  # RequestLog counts it apart, untimed
                    r.success()
                    resends += 1
                    continue
                wait = _retry_after(r) if waits < MAX_WAITS else None  # past MAX_WAITS the 429/503 is a failure
                if wait is None:
                    return self._judge(r, status, expect, check, as_json)
                r.success()  # the server asked to wait ("please wait, you are next"): the player retries
            waits += 1
            self.state.counts["waited (Retry-After)"] += 1
            gevent.sleep(wait + self.rng.uniform(0, 1))

    @staticmethod
    def _judge(r: Any, status: int, expect: Sequence[int], check: Callable[[Any], str | None] | None,
               as_json: bool) -> Reply:
        if status not in expect:
            detail = (r.text or "")[:200] if status else repr(getattr(r, "error", None))  # status 0: no response
            r.failure(f"status {status}: {detail}")
            return Reply(status)
        try:
            body = r.json() if as_json else (r.text or "")
        except ValueError:
            r.failure(f"status {status} without a JSON body")
            return Reply(status)
        problem = check(body) if check else None
        if problem:
            r.failure(problem)
            return Reply(status)
        r.success()
        return Reply(status, body)

    def staff_login(self, username: str, password: str) -> bool:
        """Sign in at /login as a browser does (the form's CSRF token, then the post); True when signed in."""
        page = self.call("GET", "/login", "staff sign-in page", as_json=False,
                         check=lambda text: None if _CSRF.search(text) else "no CSRF token in the form")
        if not page.ok:
            return False
        match = _CSRF.search(page.body)
        assert match is not None  # checked above
        form = {"username": username, "password": password, "csrf_token": match.group(1)}
        signed_in = self.call("POST", "/login", "staff sign-in", data=urlencode(form), expect=(302, 303), as_json=False,
                              allow_redirects=False,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        return signed_in.ok


class Student(_Client):
    """One student at a Chromebook."""

    abstract = True

    def on_start(self) -> None:
        self.seated = self.sign_in_and_start()  # no StopUser here: locust logs those as errors
        if self.seated and self.state.resume_check:
            self.state.counts["seated"] += 1

    def sign_in_and_start(self) -> bool:
        """Wait for the class's wave, sign in, read the attempt, start, read the items; False to stop."""
        plan = self.state.take_student()
        if plan is None or not self.state.wait_until(plan.login_at):
            return False
        self.rng = random.Random(plan.ticket)
        self.ticket = plan.ticket
        login = self.sign_in()
        if not login.ok:
            return False
        sitting = self.state.sitting
        self.ends_at = math.inf if sitting is None else self.state.t0 + plan.login_at + sitting  # its class's end
        self.attempt_id = int(login.body["attempt_id"])
        self.headers = {"Authorization": f"Bearer {login.body['token']}"}
        self.seq: dict[str, int] = {}
        self.last: tuple[dict[str, Any], dict[str, Any]] | None = None  # (item, body) of the last save sent
        self.next_beat = time.monotonic() + (self.state.heartbeat_every or 0)
        # As the player: sign-in answers with the attempt document (clock, item count), and the start
        # with the document and its items (the items arrive only once the clock runs): no reads between.
        started = self.patient("POST", "/api/v1/attempt/start", "start", headers=self.headers,
                               check=self._check_started)
        if not started.ok:
            return False
        self.items: list[dict[str, Any]] = list(started.body["items"])
        self.position = 0
        return True

    def sign_in(self, name: str = "login") -> Reply:
        """POST /login with the ticket (again after an outage); a reply with the token."""
        return self.patient("POST", "/api/v1/login", name, json={"ticket": self.ticket},
                            check=lambda b: None if b.get("token") and b.get("attempt_id") else "no token")

    def _check_started(self, body: dict[str, Any]) -> str | None:
        if body.get("status") != "in_progress" or not body.get("deadline_at"):
            return f"not started: {body.get('status')}"
        return self._check_attempt(body)

    def load(self, name: str = "attempt") -> Reply:
        """GET /attempt: no key material, items once started, every acknowledged answer with its seq."""
        return self.patient("GET", "/api/v1/attempt", name, headers=self.headers, check=self._check_attempt)

    def _check_attempt(self, body: dict[str, Any]) -> str | None:
        if any(k in json.dumps(body) for k in _KEY_MATERIAL):
            return "answer key material in the student payload"
        if body.get("status") == "in_progress" and not body.get("items"):
            return "a started attempt without items"
        held = body.get("answers") or {}
        lost = [item for item, seq in self.state.ledger.of_attempt(self.attempt_id).items()
                if (held.get(item) or {}).get("seq", 0) < seq]
        return f"acknowledged answers missing from GET /attempt: {lost[:5]}" if lost else None

    @task
    def sit(self) -> None:
        """Think, then act once: answer the next item, change an earlier one, re-send a save or reload."""
        if not self.seated:
            raise StopUser()
        self.think()
        if self.state.ending.is_set() or time.monotonic() >= self.ends_at or self.position >= len(self.items):
            self.submit()  # raises StopUser
        roll = self.rng.random()
        s = self.state
        if roll < s.change_rate and self.position > 0:
            self.save(self.items[self.rng.randrange(self.position)], "answer (changed)", "changed")
        elif roll < s.change_rate + s.retry_rate and self.last is not None:
            self.send(*self.last, name="answer (same seq)", kind="same seq again")
        elif roll < s.change_rate + s.retry_rate + s.reload_rate:
            reloaded = self.load("attempt (reload)").ok  # not `counts[...] += load()`: it yields in between
            s.counts["reloads"] += reloaded
        else:
            self.save(self.items[self.position], "answer", "first")
            self.position += 1

    def think(self) -> None:
        """Wait a think time, sending the player's heartbeat when due; returns early when the sitting ends.

        As the player, the heartbeat is due one interval after the last contact: an acknowledged
        save shows the attempt open, so a student who answers often sends few heartbeats.
        """
        until = min(time.monotonic() + self.rng.uniform(*self.state.think), self.ends_at)
        every = self.state.heartbeat_every
        while (now := time.monotonic()) < until:
            wake = min(until, self.next_beat) if every else until
            if self.state.ending.wait(max(0.0, wake - now)):
                return
            if every and time.monotonic() >= self.next_beat:
                self.next_beat = time.monotonic() + every
                self.call("POST", "/api/v1/attempt/heartbeat", "heartbeat", headers=self.headers,
                          json={"current_item": self.items[min(self.position, len(self.items) - 1)]["id"]})

    def save(self, item: dict[str, Any], name: str, kind: str) -> None:
        """A new response to `item` with the next seq."""
        self.seq[item["id"]] = self.seq.get(item["id"], 0) + 1
        body = {"seq": self.seq[item["id"]], "response": make_response(item, self.rng),
                "answered_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        self.last = (item, body)
        self.send(item, body, name=name, kind=kind)

    def send(self, item: dict[str, Any], body: dict[str, Any], *, name: str, kind: str) -> None:
        """PUT the answer; re-send it after a 5xx or a dropped connection; note the acknowledgement."""
        def acknowledged(b: dict[str, Any]) -> str | None:
            ok = b.get("item_id") == item["id"] and isinstance(b.get("seq"), int) and b["seq"] >= body["seq"]
            return None if ok else f"seq {body['seq']} of {item['id']} acknowledged as {b}"

        dropped = time.monotonic() < self.state.drop_until
        if dropped:
            self.cut_off(f"/api/v1/attempt/answers/{item['id']}", body)
        for attempt in range(SAVE_TRIES):
            again = "answer (after a drop)" if dropped else "answer (retry)"
            reply = self.call("PUT", f"/api/v1/attempt/answers/{item['id']}", again if attempt or dropped else name,
                              headers=self.headers, json=body, check=acknowledged)
            if reply.ok:
                self.state.ledger.acknowledge(self.attempt_id, item["id"], reply.body["seq"])
                if self.state.heartbeat_every:
                    self.next_beat = time.monotonic() + self.state.heartbeat_every
                self.state.counts[kind if attempt == 0 else "after an error"] += 1
                return
            if not reply.retryable:
                return
            gevent.sleep(self.rng.uniform(0.5, 2.0) * 2**attempt)

    def cut_off(self, path: str, body: dict[str, Any]) -> None:
        """Send a save on a socket of its own and close it before the reply (within 0-30 ms of sending)."""
        url = self.url(path)  # with several hosts, the one whose turn it is
        base = url[:-len(path)] if url.startswith("http://") else self.host or ""
        host, _, port = base.removeprefix("http://").partition(":")
        payload = json.dumps(body).encode()
        head = (f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {self.headers['Authorization']}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
        try:
            with socket.create_connection((host, int(port or 80)), timeout=5) as conn:
                conn.sendall(head + payload)
                gevent.sleep(self.rng.uniform(0, 0.03))
        except OSError:
            pass  # it never got through: the re-send below delivers it
        self.state.dropped.append(time.monotonic())
        self.state.counts["cut off by the client"] += 1

    def resume(self) -> None:
        """Sign in again with the ticket, as after a crash or on another Chromebook: every acknowledged answer is there."""
        login = self.sign_in("login (resume)")
        if not login.ok or int(login.body["attempt_id"]) != self.attempt_id:
            return
        self.headers = {"Authorization": f"Bearer {login.body['token']}"}
        if self.load("attempt (resume)").ok:
            self.state.counts["resumed"] += 1

    def submit(self) -> None:
        """Submit (after every save has its answer) and stop."""
        if self.state.resume_check:
            self.resume()
        done = self.patient("POST", "/api/v1/attempt/submit", "submit", headers=self.headers,
                            check=lambda b: None if b.get("status") == "submitted" else f"status {b.get('status')}")
        if done.ok:
            self.state.ledger.submits += 1
        raise StopUser()


class Proctor(_Client):
    """A proctor with the live class view open: signs in, opens the page, then polls the status JSON."""

    abstract = True

    def on_start(self) -> None:
        plan = self.state.take_proctor()
        self.watching = plan is not None and self.state.wait_until(plan.start_at) and self.open_live_view(plan)

    def open_live_view(self, plan: ProctorPlan) -> bool:
        self.rng = random.Random(plan.session_id)
        self.session_id = plan.session_id
        return (self.staff_login(plan.username, plan.password)
                and self.call("GET", f"/proctor/sessions/{plan.session_id}", "proctor live page", as_json=False).ok)

    @task
    def poll(self) -> None:
        if not self.watching or self.state.ending.wait(PROCTOR_POLL_SECONDS):
            raise StopUser()
        self.call("GET", f"/proctor/api/sessions/{self.session_id}/status", "proctor status",
                  check=lambda b: None if isinstance(b.get("counts"), dict) else "no counts")


class Bureau(_Client):
    """The bureau's city overview, open all day (the page `--overview-url` names), reloaded every 15 s."""

    abstract = True

    def on_start(self) -> None:
        self.rng = random.Random(0)
        self.watching = self.state.bureau is not None and self.staff_login(*self.state.bureau)

    @task
    def overview(self) -> None:
        if not self.watching or self.state.overview_url is None:
            raise StopUser()
        self.call("GET", self.state.overview_url, "overview", as_json=False)
        if self.state.ending.wait(OVERVIEW_POLL_SECONDS):
            raise StopUser()


def user_classes(state: CensusState) -> list[type[User]]:
    """The user classes of one run, bound to `state`, with a fixed count each (a student per plan, ...)."""
    def bound(base: type[_Client], count: int) -> type[User]:
        return type(base.__name__, (base,), {"state": state, "fixed_count": count})

    classes = [bound(Student, len(state.students))]
    if state.proctors:
        classes.append(bound(Proctor, len(state.proctors)))
    if state.overview_url and state.bureau:
        classes.append(bound(Bureau, 1))
    return classes
