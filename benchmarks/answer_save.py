"""The full answer-save path against a bare durable upsert, on the same database, in the same run.

Usage::

    python benchmarks/answer_save.py                       # embedded default: SQLite file + embedded Redis
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/6 \\
        python benchmarks/answer_save.py --repeat 3 --seconds 10

Ours: `PUT /api/v1/attempt/answers/<item_id>` on the real app (`webapp:create_app()` under gunicorn with
`webapp/gunicorn_conf.py`, `--workers` processes), HTTP over loopback, a real bearer token per attempt,
`--attempts` started attempts of grade-5 sessions, every request a new seq of one of their items (so
every save stores; each (attempt, item) pair is visited in turn).

Reference: a minimal Flask app (`create_bare_app` below) under the same gunicorn settings doing only
the same `INSERT ... ON CONFLICT (attempt_id, item_pk) DO UPDATE ... WHERE answers.seq < excluded.seq`
and a commit per request, on the same database and the same answers table. On PostgreSQL a second
reference does the upsert as a statement of its own in autocommit (one round trip instead of BEGIN,
upsert, COMMIT), the way our hot path sends its one statement; the ratio against it is printed too.

Both are driven by `wrk` (Debian package `wrk`; one thread, `--connections` keep-alive connections,
a Lua script making each request), alternating ours / reference `--repeat` times for `--seconds` each
after a warm-up; the figures are the medians of requests/s. With DATABASE_URL set to PostgreSQL a
throwaway database is created (and dropped at the end); unset, an SQLite file in a temporary folder.
Target (issue 10): ours ≥ 70 % of the reference.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECRET = "bench-secret-key-0123456789abcdef"
TARGET = 0.70


# --- the reference app ------------------------------------------------------------------------------------

def create_bare_app(autocommit: bool = False) -> Any:
    """A Flask app doing only the durable upsert of one answer per request (gunicorn 'benchmarks.answer_save:create_bare_app()').

    In a transaction (BEGIN, the upsert, COMMIT), or with `autocommit` the upsert alone as its own
    transaction (PostgreSQL: one round trip, as our hot path does).
    """
    from flask import Flask, jsonify, request
    from sqlalchemy.dialects import postgresql, sqlite

    from assessment.db import make_engine, utcnow
    from assessment.models import Answer

    engine = make_engine(os.environ["DATABASE_URL"])
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    app = Flask(__name__)

    @app.put("/bare/<int:attempt_id>/<int:item_pk>")
    def bare(attempt_id: int, item_pk: int) -> Any:
        body = request.get_json()
        now = utcnow()
        stmt = insert(Answer).values(attempt_id=attempt_id, item_pk=item_pk, seq=body["seq"],
                                     response=body["response"], score=0, answered_at=now, saved_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Answer.attempt_id, Answer.item_pk],
            set_={k: stmt.excluded[k] for k in ("seq", "response", "score", "answered_at", "saved_at")},
            where=Answer.seq < stmt.excluded.seq)
        if autocommit and engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(stmt)
        else:
            with engine.begin() as conn:
                conn.execute(stmt)
        return jsonify({"item_id": str(item_pk), "seq": body["seq"]})

    return app


# --- data ---------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def database(instance: Path) -> Iterator[str]:
    """The run's database: a throwaway PostgreSQL database when DATABASE_URL says so, else an SQLite file."""
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgresql"):
        from benchmarks.results_national import throwaway_database

        with throwaway_database(base) as url:
            yield url
    else:
        yield f"sqlite:///{instance / 'bench.db'}"


def open_sessions(url: str, n_students: int) -> tuple[Any, Any, list[Any], list[Any]]:
    """Migrate, then bank, window, a shuffled grade-5 form and classes of 25 with open sessions.

    Returns the engine, an open ORM session, the form's (pk, Item) and the first `n_students` attempts.
    """
    from assessment.db import make_engine, make_session_factory
    from assessment.forms import form_items
    from assessment.migrate import upgrade
    from assessment.sessions import create_session
    from tests.assessment.factories import import_bank, make_class, make_form, make_window

    engine = make_engine(url)
    upgrade(engine)
    db = make_session_factory(engine)()
    import_bank(db)
    make_window(db)
    form = make_form(db, 5, shuffle=True)
    items = [(pk, item) for _, pk, item in form_items(db, form)]
    attempts = []
    for k in range((n_students + 24) // 25):
        klass = make_class(db, grade=5, n_students=25, school=f"es-b{k // 8:02d}")
        attempts += create_session(db, class_id=klass.id, form_id=form.id, minutes=240).attempts
    return engine, db, items, attempts[:n_students]


def prepare(url: str, n_attempts: int) -> list[dict[str, Any]]:
    """Every attempt of `open_sessions` signed in and started; one job (attempt, token, items) per attempt."""
    from assessment.attempts import login_with_ticket, start_attempt
    from tests.assessment.factories import correct_response

    engine, db, items, attempts = open_sessions(url, n_attempts)
    jobs = []
    for attempt in attempts:
        result = login_with_ticket(db, attempt.ticket, secret_key=SECRET)
        start_attempt(result.attempt)
        jobs.append({"attempt": attempt.id, "token": result.token,
                     "items": [{"id": item.id, "pk": pk, "response": json.dumps(correct_response(item))}
                               for pk, item in items]})
    db.commit()
    db.close()
    engine.dispose()
    return jobs


# --- servers and the driver ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """gunicorn with the project's config serving `app` (its messages to `log`); yields its base URL and pid."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "webapp" / "gunicorn_conf.py"),
           "-b", f"127.0.0.1:{port}", "-w", str(workers), "--chdir", str(REPO), app]
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn {app} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn {app} did not listen within 60 s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_LUA = r"""
local jobs = {}
local counter = 0
local bad = 0
local seq_base = %(seq_base)d
function init(args)
  for line in io.lines("%(jobs)s") do
    local path, token, body = line:match("^(%%S+)\t(%%S*)\t(.*)$")
    jobs[#jobs + 1] = {path, token, body}
  end
end
function request()
  local i = counter %% #jobs
  local round = math.floor(counter / #jobs)
  counter = counter + 1
  local job = jobs[i + 1]
  local headers = {["Content-Type"] = "application/json"}
  if job[2] ~= "" then headers["Authorization"] = "Bearer " .. job[2] end
  local body = '{"seq": ' .. (seq_base + round) .. ', "response": ' .. job[3] .. '}'
  return wrk.format("PUT", job[1], headers, body)
end
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end
"""


def write_jobs(path: Path, jobs: list[dict[str, Any]], bare: bool) -> None:
    """One line per (attempt, item), items interleaved so consecutive requests hit different attempts."""
    lines = []
    n_items = len(jobs[0]["items"])
    for k in range(n_items):
        for job in jobs:
            item = job["items"][k]
            if bare:
                lines.append(f"/bare/{job['attempt']}/{item['pk']}\t\t{item['response']}")
            else:
                lines.append(f"/api/v1/attempt/answers/{item['id']}\t{job['token']}\t{item['response']}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def drive(url: str, jobs_file: Path, script: Path, seq_base: int, seconds: float, connections: int) -> dict[str, float]:
    """One wrk run; requests/s, latency percentiles and the count of non-200 answers."""
    script.write_text(_LUA % {"jobs": str(jobs_file), "seq_base": seq_base}, encoding="utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    lat = {p: _ms(re.search(rf"^\s+{p}%\s+([\d.]+\w+)", text, re.M)) for p in ("50", "99")}
    if non2xx or out.stderr.strip():
        print(f"  warning: {non2xx.group(1) if non2xx else 0} non-200 answers; {out.stderr.strip()[:300]}")
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"], "errors": float(non2xx.group(1)) if non2xx else 0.0}


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    value = match.group(1)
    number = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
    unit = value[len(re.match(r"[\d.]+", value).group(0)):]  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def record(master: int, folder: Path, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy on every worker of the gunicorn `master` for `seconds` (collapsed stacks in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [subprocess.Popen(["py-spy", "record", "--format", "raw", "--nonblocking", "-r", "200",
                              "-d", str(int(seconds) - 1), "-o", str(folder / f"worker-{pid}.txt"), "-p", pid],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in workers]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attempts", type=int, default=1000, help="started attempts the saves go to")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (both apps)")
    ap.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of one timed run")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each app (alternating)")
    ap.add_argument("--py-spy", type=Path, metavar="DIR",
                    help="record each of our workers with py-spy (collapsed stacks) during our first timed run")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark drives the servers with wrk: apt-get install wrk")
    print(f"machine: {platform.machine()} cores={os.cpu_count()} python {platform.python_version()}")
    instance = Path(tempfile.mkdtemp(prefix="ctc-bench-save-"))
    try:
        with database(instance) as url:
            from assessment.hotstate import embedded_redis_url, shutdown_embedded

            env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "CTCENSUS_INSTANCE": str(instance),
                   "CTCENSUS_REDIS_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:"}
            env["REDIS_URL"] = os.environ.get("REDIS_URL") or embedded_redis_url(instance)
            kind = url.split(":", 1)[0]
            t = time.perf_counter()
            jobs = prepare(url, args.attempts)
            print(f"database: {kind}; {len(jobs)} started attempts x {len(jobs[0]['items'])} items "
                  f"(prepared in {time.perf_counter() - t:.1f} s); gunicorn {args.workers} workers "
                  f"(gunicorn_conf.py), wrk 1 thread, {args.connections} connections, {args.seconds:.0f} s a run")
            ours_jobs, bare_jobs = instance / "ours.tsv", instance / "bare.tsv"
            write_jobs(ours_jobs, jobs, bare=False)
            write_jobs(bare_jobs, jobs, bare=True)
            script = instance / "wrk.lua"
            results: dict[str, list[dict[str, float]]] = {"ours": [], "bare": [], "bare-autocommit": []}
            seq = 1
            with contextlib.ExitStack() as stack:
                ours, ours_pid = stack.enter_context(gunicorn("webapp:create_app()", env, args.workers, instance / "ours.log"))
                bare, _ = stack.enter_context(gunicorn("benchmarks.answer_save:create_bare_app()", env, args.workers,
                                                       instance / "bare.log"))
                apps = [("ours", ours, ours_jobs), ("bare", bare, bare_jobs)]
                if kind.startswith("postgresql"):
                    auto, _ = stack.enter_context(gunicorn("benchmarks.answer_save:create_bare_app(autocommit=True)", env,
                                                           args.workers, instance / "bare-autocommit.log"))
                    apps.append(("bare-autocommit", auto, bare_jobs))
                for name, base, jobs_file in apps:
                    drive(base, jobs_file, script, seq, 6, args.connections)  # warm-up (imports, pools, caches)
                    seq += 10_000
                for k in range(args.repeat):
                    for name, base, jobs_file in apps:
                        spies = record(ours_pid, args.py_spy, args.seconds) if args.py_spy and k == 0 and name == "ours" else []
                        r = drive(base, jobs_file, script, seq, args.seconds, args.connections)
                        for spy in spies:
                            spy.wait()
                        seq += 100_000
                        results[name].append(r)
                        print(f"  run {k + 1} {name:15s}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:.1f} ms  "
                              f"p99 {r['p99_ms']:.1f} ms  non-200 {r['errors']:.0f}")
            shutdown_embedded()
            for name in results:
                if not (instance / f"{name}.log").exists():
                    continue
                errors = [line for line in (instance / f"{name}.log").read_text().splitlines() if "Error" in line]
                if errors:
                    print(f"  {name}'s server logged {len(errors)} error lines, e.g. {errors[-1][:300]}")
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    ours_rps = statistics.median(r["rps"] for r in results["ours"])
    bare_rps = statistics.median(r["rps"] for r in results["bare"])
    print(f"ours (full answer save): {ours_rps:.1f} req/s (median of {args.repeat})")
    print(f"reference (bare durable upsert): {bare_rps:.1f} req/s")
    ratio = ours_rps / bare_rps
    print(f"ratio ours / reference: {ratio:.2f} (target >= {TARGET:.2f}: {'met' if ratio >= TARGET else 'not met'})")
    if results["bare-autocommit"]:
        auto_rps = statistics.median(r["rps"] for r in results["bare-autocommit"])
        print(f"second reference (bare upsert in autocommit, one round trip): {auto_rps:.1f} req/s; "
              f"ratio ours / it: {ours_rps / auto_rps:.2f}")


if __name__ == "__main__":
    main()
