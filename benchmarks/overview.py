"""Server time of the city test-day overview with the whole demo city in session.

Usage::

    python benchmarks/overview.py                 # embedded default: SQLite file + embedded Redis, temp instance
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/7 \\
        python benchmarks/overview.py             # PostgreSQL + Redis (a fresh database, dropped afterwards)
    python benchmarks/overview.py --repeat 50

The demo city is built as `ctcensus demo --no-serve` builds it (`prepare_demo`, without the
simulated census). Then a session is opened for every grade-5 and grade-8 class (~5,350
students, 215 classes), and the city is put in the middle of its test. Drawn with a fixed
seed, per student: 5% not signed in, 5% signed in but not started, 70% writing, 15%
submitted, 5% timed out, 1% locked. Writers saved an answer about a minute ago and sent a
heartbeat about 15 s ago (both exponential). 3% of the classrooms lost their network 3-5
minutes ago, and 2% have saved nothing for 12 minutes. Every signed-in student has a
presence entry in Redis, as their logins and heartbeats leave. With DATABASE_URL set, a
fresh database `ctc_bench_<id>` is created on that server and dropped at the end;
Redis keys get a per-run prefix and are deleted at the end.

Ours, through the app in this process (Flask's test client, logged in as the demo bureau; no network):

* compute: `assessment.overview.city_overview` alone (the queries, the Redis presence and the rules);
* cold: `GET /overview/api/city` and `GET /overview` with the shared snapshot dropped first, so the
  request computes the city (what one reader pays at most every 5 s);
* warm: the same requests served from the snapshot (what every other reader pays), and a school's.

Reference, in the same run: the plain `SELECT count(*) FROM attempts GROUP BY status`, the
least any count of the city's students by state has to do. Medians and 95th percentiles of
--repeat runs after one warm-up.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_national import throwaway_database
from benchmarks.results_pages import login

SEED = 20260505


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds per call of `fn`, after one warm-up call."""
    out = []
    for k in range(repeat + 1):
        t = time.perf_counter()
        fn()
        if k:
            out.append(time.perf_counter() - t)
    return sorted(out)


def figure(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def city_in_session(ctx: Any, prefix: str) -> dict[str, int]:
    """Sessions for every census class, and the city halfway through its test (SQL and Redis presence)."""
    import numpy as np
    from sqlalchemy import select, update

    from assessment.db import utcnow
    from assessment.demo import DEMO_WINDOW
    from assessment.forms import list_forms
    from assessment.hotstate import connect_redis
    from assessment.models import Attempt, SchoolClass, TestSession
    from assessment.presence import Presence
    from assessment.sessions import create_session

    with ctx.transaction() as session:
        forms = {grade: list_forms(session, grade)[-1].id for grade in (5, 8)}
        busy = set(session.scalars(select(TestSession.class_id).where(TestSession.status != "closed")))
        for klass in session.scalars(select(SchoolClass).where(SchoolClass.grade.in_((5, 8))).order_by(SchoolClass.id)):
            if klass.id not in busy and klass.students:
                create_session(session, class_id=klass.id, form_id=forms[klass.grade], window_code=DEMO_WINDOW,
                               actor="bench")
    rng = np.random.default_rng(SEED)
    now = utcnow()
    presence = Presence(connect_redis(ctx.settings.redis_url, ctx.settings.instance_path), prefix)
    rows, touches = [], []
    with ctx.transaction() as session:
        attempts = session.execute(select(Attempt.id, Attempt.session_id).order_by(Attempt.id)).all()
        states = rng.choice(["absent", "joined", "writing", "submitted", "timed_out"], size=len(attempts),
                            p=[0.05, 0.05, 0.70, 0.15, 0.05])
        session_ids = sorted({s for _, s in attempts})
        trouble = dict(zip(session_ids, rng.choice(["", "offline", "stalled"], size=len(session_ids),
                                                   p=[0.95, 0.03, 0.02]), strict=True))
        for (attempt_id, session_id), state in zip(attempts, states, strict=True):
            started = now - timedelta(minutes=float(rng.uniform(5, 30)))
            # a writer saves an answer every minute or so; a stalled classroom has saved nothing for 12+ min
            saved = max(started, now - timedelta(seconds=float(rng.exponential(60))))
            if trouble[session_id] == "stalled":
                saved = min(saved, now - timedelta(minutes=12))
            row: dict[str, Any] = {"id": attempt_id, "locked": bool(rng.random() < 0.01)}
            if state in ("writing", "submitted", "timed_out"):
                row |= {"status": "in_progress", "started_at": started, "deadline_at": started + timedelta(minutes=35),
                        "last_contact_at": max(started, saved)}
                if state == "submitted":
                    row |= {"status": "submitted", "submit_reason": "student", "submitted_at": now}
                if state == "timed_out":
                    row |= {"status": "submitted", "submit_reason": "deadline", "deadline_at": now,
                            "submitted_at": now}
            if state != "absent":
                # heartbeats every 30 s; a classroom whose network is down has been quiet for minutes
                quiet = float(rng.uniform(180, 300)) if trouble[session_id] == "offline" else float(rng.exponential(15))
                touches.append((session_id, attempt_id, now - timedelta(seconds=quiet)))
            rows.append(row)
        session.execute(update(Attempt), rows)
    for session_id, attempt_id, at in touches:
        presence.touch(session_id, attempt_id, at, active=True)
    counts = {str(s): int(n) for s, n in zip(*np.unique(states, return_counts=True), strict=True)}
    return {"students": len(attempts), "presence entries": len(touches), **counts}


def main() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per figure (after one warm-up)")
    args = ap.parse_args()
    base_db = os.environ.get("DATABASE_URL", "")
    instance = Path(tempfile.mkdtemp(prefix="ctc-bench-overview-"))
    os.environ["CTCENSUS_INSTANCE"] = str(instance)
    prefix = f"ctcbench:{uuid.uuid4().hex[:8]}:"
    os.environ["CTCENSUS_REDIS_PREFIX"] = prefix
    stack = contextlib.ExitStack()
    if base_db.startswith("postgresql"):
        os.environ["DATABASE_URL"] = stack.enter_context(throwaway_database(base_db))
    else:
        os.environ.pop("DATABASE_URL", None)
    redis_client = None
    try:
        from sqlalchemy import text

        from assessment.demo import DEMO_ACCOUNTS, DEMO_WINDOW
        from assessment.hotstate import connect_redis
        from assessment.overview import city_overview
        from assessment.presence import Presence
        from assessment.windows import get_window
        from webapp import create_app
        from webapp.cli import prepare_demo
        from webapp.commands.common import Context

        ctx = Context()
        t = time.perf_counter()
        prepare_demo(ctx, census=False)
        made = city_in_session(ctx, prefix)
        engine_name = ctx.engine.dialect.name
        redis_client = connect_redis(ctx.settings.redis_url, ctx.settings.instance_path)
        print(f"machine: {platform.machine()} cores={os.cpu_count()} python {platform.python_version()}; "
              f"database {engine_name}, Redis {'REDIS_URL' if ctx.settings.redis_url else 'embedded'}")
        print(f"city in session ({time.perf_counter() - t:.0f} s to build): " + ", ".join(f"{k} {v:,}" for k, v in made.items()))

        with ctx.engine.connect() as conn:
            reference = timed(lambda: conn.execute(text("SELECT status, count(*) FROM attempts GROUP BY status")).all(),
                              args.repeat)
        ref = statistics.median(reference)

        presence = Presence(redis_client, prefix)
        with ctx.transaction() as session:
            window = get_window(session, DEMO_WINDOW)
            compute = timed(lambda: city_overview(session, window, presence=presence), args.repeat)
            overview = city_overview(session, window, presence=presence)
        ctx.close()

        app = create_app()
        bureau = login(app, "bureau", DEMO_ACCOUNTS["bureau"][1])

        def cache() -> Any:
            return app.extensions["ctcensus.overview_cache"]

        def get(url: str, cold: bool) -> Callable[[], Any]:
            def run() -> Any:
                if cold and "ctcensus.overview_cache" in app.extensions:
                    cache().forget(f"overview:{DEMO_WINDOW}")
                response = bureau.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return response
            return run

        school = overview.problem_schools[0].source_id if overview.problem_schools else overview.schools[0].source_id
        rows = [("compute (city_overview)", compute)]
        computed_before_warm = 0
        for name, url, cold in (("GET /overview/api/city, cold", "/overview/api/city", True),
                                ("GET /overview (page), cold", "/overview", True),
                                ("GET /overview/api/city, warm", "/overview/api/city", False),
                                ("GET /overview (page), warm", "/overview", False),
                                (f"GET /overview/api/schools/{school}, warm", f"/overview/api/schools/{school}", False),
                                (f"GET /overview/schools/{school}, warm", f"/overview/schools/{school}", False)):
            if not cold and not computed_before_warm:
                computed_before_warm = cache().computed
            rows.append((name, timed(get(url, cold), args.repeat)))
        size_json = len(get("/overview/api/city", False)().data)
        size_snapshot = len(overview.to_json().encode())
        c = overview.counts
        print(f"overview: {len(overview.districts)} districts, {len(overview.schools)} schools, "
              f"{sum(len(s.sessions) for s in overview.schools)} sessions; {c.students:,} students: "
              f"{c.not_joined:,} not signed in, {c.joined:,} signed in, {c.in_progress:,} writing "
              f"({c.offline:,} offline, {c.stalled:,} stalled), {c.submitted:,} submitted, {c.timed_out:,} timed out; "
              f"{len(overview.problem_schools)} schools with problems; snapshot {size_snapshot / 1024:.0f} KiB, "
              f"city JSON {size_json / 1024:.0f} KiB")
        print(f"\nreference: SELECT status, count(*) FROM attempts GROUP BY status  median {1000 * ref:.2f} ms\n")
        print(f"{'ours':<44} {'median':>9} {'p95':>9} {'x ref':>7}")
        for name, times in rows:
            med, p95 = figure(times)
            print(f"{name:<44} {1000 * med:7.1f}ms {1000 * p95:7.1f}ms {med / ref:6.1f}x")
        warm_requests = 4 * (args.repeat + 1)
        print(f"\ncomputations of the city during the {warm_requests} warm requests: "
              f"{cache().computed - computed_before_warm} (at most one per {cache().max_age:g} s for every reader)")
    finally:
        if redis_client is not None:
            keys = list(redis_client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                redis_client.delete(*keys)
        from assessment.hotstate import shutdown_embedded

        shutdown_embedded()
        stack.close()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
