"""Where a student request's time goes: server time, SQL statements and Redis round trips per endpoint.

Usage::

    python benchmarks/api_profile.py                                   # embedded default (SQLite, embedded Redis)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/6 \\
        python benchmarks/api_profile.py --students 300 --profile answer

Each of `--students` students of grade-5 sessions (shuffled options) does what the player does,
through the app in this process (Flask's test client: routing, auth, SQL, Redis, JSON; no
network or gunicorn): sign in with the ticket, start (the answer carries the items), three
answer saves, a heartbeat, a reload (`GET /attempt`) and the submit; after each student the
proctor's live view of the first session polls its status once (25 students). Printed per endpoint: the median and
95th percentile of the server time, the median CPU time of this process (the app's Python work,
the drivers' included, without the waits), SQL statements per request (SQLAlchemy's
`before_cursor_execute`, BEGIN included) and Redis round trips per request. `--profile NAME`
adds a cProfile listing of that endpoint's requests. With DATABASE_URL set to PostgreSQL a
throwaway database is created and dropped at the end.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.answer_save import SECRET, database, open_sessions

ENDPOINTS = ("login", "start", "attempt (reload)", "answer", "heartbeat", "submit", "proctor status")


PROCTOR = ("bench-proctor", "bench-proctor-pass")


def prepare_tickets(url: str, n_students: int) -> tuple[list[str], list[int]]:
    """The tickets and session ids of `answer_save.open_sessions` (classes of 25 on a shuffled grade-5 form).

    Also makes a proctor login for those sessions' school (their live view's status poll).
    """
    from assessment.accounts import create_user
    from assessment.models import School, SchoolClass, TestSession

    engine, db, _, attempts = open_sessions(url, n_students)
    tickets = [a.ticket for a in attempts]
    sessions = sorted({a.session_id for a in attempts})
    school = db.query(School.source_id).join(SchoolClass, SchoolClass.school_id == School.id).join(
        TestSession, TestSession.class_id == SchoolClass.id).filter(TestSession.id == sessions[0]).scalar()
    create_user(db, *PROCTOR, "proctor", school_source_id=school)
    db.commit()
    db.close()
    engine.dispose()
    return tickets, sessions


class Counters:
    """SQL statements (engine events) and Redis round trips (commands sent) since the last `take`."""

    def __init__(self, engine: Any) -> None:
        import redis.connection
        from sqlalchemy import event

        self.sql = 0
        self.redis = 0
        event.listen(engine, "before_cursor_execute", self._on_sql)
        original = redis.connection.AbstractConnection.send_packed_command

        def counted(conn: Any, command: Any, check_health: bool = True) -> Any:
            self.redis += 1
            return original(conn, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]

    def _on_sql(self, *_args: Any) -> None:
        self.sql += 1

    def take(self) -> tuple[int, int]:
        out = (self.sql, self.redis)
        self.sql = self.redis = 0
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--profile", choices=ENDPOINTS + ("none",), default="none",
                    help="print a cProfile listing of this endpoint's requests")
    args = ap.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="ctc-bench-api-"))
    try:
        with database(instance) as url:
            from webapp import create_app

            tickets, sessions = prepare_tickets(url, args.students)
            app = create_app({"DATABASE_URL": url, "REDIS_URL": os.environ.get("REDIS_URL", ""),
                              "INSTANCE_PATH": instance, "SECRET_KEY": SECRET,
                              "REDIS_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:"})
            counters = Counters(app.extensions["ctcensus"].engine)
            times: dict[str, list[float]] = defaultdict(list)
            cpu_times: dict[str, list[float]] = defaultdict(list)
            counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
            profiler = cProfile.Profile()

            def call(name: str, method: str, path: str, client: Any = None, **kw: Any) -> Any:
                client = client or app.test_client()
                counters.take()
                if name == args.profile:
                    profiler.enable()
                t, cpu = time.perf_counter(), time.process_time()
                response = client.open(path, method=method, **kw)
                elapsed = time.perf_counter() - t
                cpu_times[name].append(time.process_time() - cpu)
                if name == args.profile:
                    profiler.disable()
                assert response.status_code == 200, (name, response.status_code, response.get_data(as_text=True)[:300])
                times[name].append(elapsed)
                counts[name].append(counters.take())
                return response.get_json()

            proctor = app.test_client()  # the live view of the first session, polled once per student
            page = proctor.get("/login").get_data(as_text=True)
            csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed_in = proctor.post("/login", data={"username": PROCTOR[0], "password": PROCTOR[1], "csrf_token": csrf})
            assert signed_in.status_code in (302, 303), signed_in.status_code

            for ticket in tickets:
                token = call("login", "POST", "/api/v1/login", json={"ticket": ticket})["token"]
                auth = {"Authorization": f"Bearer {token}"}
                view = call("start", "POST", "/api/v1/attempt/start", headers=auth)  # the items come with it
                for item in view["items"][:3]:
                    response = _response(item)
                    call("answer", "PUT", f"/api/v1/attempt/answers/{item['id']}", headers=auth,
                         json={"seq": 1, "response": response})
                call("heartbeat", "POST", "/api/v1/attempt/heartbeat", headers=auth,
                     json={"current_item": view["items"][3]["id"]})
                call("attempt (reload)", "GET", "/api/v1/attempt", headers=auth)
                call("submit", "POST", "/api/v1/attempt/submit", headers=auth)
                call("proctor status", "GET", f"/proctor/api/sessions/{sessions[0]}/status", client=proctor)
            app.extensions["ctcensus"].engine.dispose()
            kind = url.split(":", 1)[0]
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    print(f"database: {kind}; {len(tickets)} students; Flask test client in one process")
    print(f"{'endpoint':24s} {'median ms':>10s} {'p95 ms':>8s} {'CPU ms':>7s} {'SQL/req':>8s} {'Redis/req':>10s}")
    for name in ENDPOINTS:
        values = sorted(times[name])
        p95 = values[int(0.95 * (len(values) - 1))]
        sql = statistics.mean(c[0] for c in counts[name])
        red = statistics.mean(c[1] for c in counts[name])
        cpu = 1000 * statistics.median(cpu_times[name])
        print(f"{name:24s} {1000 * statistics.median(values):10.2f} {1000 * p95:8.2f} {cpu:7.2f} {sql:8.2f} {red:10.2f}")
    if args.profile != "none":
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def _response(item: dict[str, Any]) -> dict[str, Any]:
    """A well-formed response to an item as the student sees it."""
    kind = item["type"]
    if kind == "single_choice":
        return {"choice": item["options"][0]["id"]}
    if kind == "multiple_response":
        return {"choices": [item["options"][0]["id"]]}
    if kind == "ordering":
        return {"order": [o["id"] for o in item["options"]]}
    if kind == "matching":
        return {"pairs": [[left["id"], item["right"][0]["id"]] for left in item["left"]]}
    if kind == "short_answer":
        return {"text": "7"}
    return {"moves": "R"}


if __name__ == "__main__":
    main()
