"""`python -m loadtest run`: start the stack, run the census scenario headless, referee the answers, report.

Exit status 0 when every acknowledged answer is stored and no request failed
(5xx and connection errors up to `--max-error-rate`); 1 otherwise; 2 for bad
options or a stack that would not start; 130 when interrupted.

With `--fault KIND@SECONDS` (loadtest/faults.py) the stack suffers each fault
at its second; 5xx and connection errors are then allowed only within
`--fault-window` seconds after a fault, every fault must be followed by a
success, and every student must resume (sign in again and find every
acknowledged answer) before it submits.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import gevent
from locust.env import Environment

from .cpu import cpu_sample, cpu_use
from .faults import DROP_SECONDS, FaultRecord, FaultSpec, fault_windows, kill_worker, parse_fault
from .plan import default_think, login_offsets, parse_think
from .referee import judge, read_stored
from .report import (
    SHOWN_PROBLEMS,
    LoadSummary,
    RequestLog,
    errors_outside,
    failure_reasons,
    format_summary,
    summary_json,
)
from .scenario import CensusState, ProctorPlan, StudentPlan, user_classes
from .stack import Stack, StackError, open_stack, stop_server

__all__ = ["RunOptions", "main", "parse_args", "run"]

END_GRACE_SECONDS = 60.0  # after the run's end, time for the students' last saves and submits


@dataclass(frozen=True)
class RunOptions:
    students: int
    duration: float
    workers: int = 2
    hosts: int = 1
    database: str | None = None
    redis: str | None = None
    rate: float = 100.0
    think: tuple[float, float] | None = None  # None: default_think(duration)
    overview_url: str | None = None
    max_error_rate: float = 0.0
    keep: bool = False
    as_json: bool = False
    faults: tuple[FaultSpec, ...] = ()
    fault_window: float = 10.0  # seconds after a fault's end in which its errors are counted as its own


_STARTED = time.monotonic()


def _say(message: str) -> None:
    print(f"loadtest [{time.monotonic() - _STARTED:5.1f} s]: {message}", file=sys.stderr, flush=True)


def _plans(stack: Stack, students: int, rate: float) -> tuple[list[StudentPlan], list[ProctorPlan], int]:
    """The first `students` tickets in class order with their sign-in times; a proctor per class; the classes."""
    tickets, left = [], students
    for session in stack.sessions:
        if left <= 0:
            break
        tickets.append([t["ticket"] for t in session["tickets"][:left]])
        left -= len(tickets[-1])
    offsets = login_offsets([len(t) for t in tickets], rate)
    plans = sorted((StudentPlan(ticket, at) for ts, ats in zip(tickets, offsets) for ticket, at in zip(ts, ats)),
                   key=lambda p: p.login_at)
    proctors = [ProctorPlan(session["id"], *stack.proctor_login[session["school"]], start_at=ats[0])
                for session, ats in zip(stack.sessions, offsets)]
    return plans, proctors, len(tickets)


class _NotAboutSpawnRate(logging.Filter):
    """Every user is spawned at once on purpose (each waits for its sign-in time): drop locust's warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "spawn rate is very high" not in record.getMessage()


def drive(url: str, state: CensusState, duration: float, grace: float = END_GRACE_SECONDS,
          during: Callable[[], None] | None = None) -> tuple[RequestLog, float, list[str]]:
    """Run the users for `duration` s, then let them wind up (students submit); the log, seconds, user errors.

    `during` runs in a greenlet of its own from the start (the fault schedule) and is waited for at the end.

    With `state.sitting` set, students end by themselves (sign-in + sitting), so `duration` should cover
    the last sign-in plus the sitting; whoever is left then is asked to wind up.
    """
    env = Environment(user_classes=user_classes(state), host=url)
    log = RequestLog()
    errors: list[str] = []
    env.events.request.add_listener(log.on_request)
    env.events.user_error.add_listener(lambda user_instance, exception, tb, **_: errors.append(repr(exception)))
    runner = env.create_local_runner()
    users = sum(c.fixed_count for c in env.user_classes)
    logging.getLogger("locust.runners").addFilter(_NotAboutSpawnRate())
    state.start()
    log.t0 = state.t0
    side = gevent.spawn(during) if during else None
    try:
        runner.start(users, spawn_rate=users)  # all at once: each user waits for its own moment
        gevent.sleep(duration)
        if side is not None:
            side.join()  # a fault still under way ends before the students are asked to wind up
        state.ending.set()
        ends = time.monotonic() + grace
        while runner.user_count and time.monotonic() < ends:
            gevent.sleep(0.2)
    finally:
        seconds = time.monotonic() - state.t0
        runner.quit()
        if side is not None:
            side.kill()
    return log, seconds, errors


def _do_fault(stack: Stack, state: CensusState, spec: FaultSpec) -> str:
    """Do one fault to the running stack; what was done, in words (RuntimeError: it could not be done)."""
    if spec.kind == "kill-worker":
        first = stack.servers[0].process  # with several hosts, a worker of the first
        assert first is not None
        return kill_worker(first.pid, stack.workers)
    if spec.kind == "restart-redis":
        if stack.restartable_redis is None:
            raise RuntimeError("no restartable Redis")
        return stack.restartable_redis.restart()
    if spec.kind == "restart-postgres":
        if stack.restartable_postgres is None:
            raise RuntimeError("no restartable PostgreSQL")
        return stack.restartable_postgres.restart()
    before = len(state.dropped)
    state.drop_until = time.monotonic() + DROP_SECONDS
    gevent.sleep(DROP_SECONDS)
    return (f"for {DROP_SECONDS:g} s each save was sent on a socket of its own and closed by the client right "
            f"after sending ({len(state.dropped) - before} saves), then re-sent with the same seq")


def fault_schedule(stack: Stack, state: CensusState, records: list[FaultRecord]) -> Callable[[], None]:
    """The greenlet's body: each fault at its second (unless the run ends first), noted in `records`."""
    def run_faults() -> None:
        for record in records:
            reason = stack.unavailable.get(record.spec.kind)
            if reason:
                record.skipped = reason
                _say(f"fault {record.spec.kind}@{record.spec.at:g} SKIPPED: {reason}")
        for record in sorted(records, key=lambda r: r.spec.at):
            if record.skipped:
                continue
            if not state.wait_until(record.spec.at):
                return
            record.started = time.monotonic() - state.t0
            _say(f"fault {record.spec.kind}@{record.spec.at:g}: starting")
            try:
                record.detail = _do_fault(stack, state, record.spec)
            except Exception as exc:  # the run goes on; the report says the fault failed
                record.detail = f"FAILED to do the fault: {type(exc).__name__}: {exc}"
            record.ended = time.monotonic() - state.t0
            _say(f"fault {record.spec.kind}@{record.spec.at:g}: {record.detail}")

    return run_faults


def run(options: RunOptions) -> LoadSummary:
    """The whole run; raises StackError when the stack cannot be set up."""
    think = options.think or default_think(options.duration)
    database = options.database or os.environ.get("DATABASE_URL") or None
    redis_url = options.redis or os.environ.get("REDIS_URL") or None
    with ExitStack() as cleanup:
        stack = open_stack(cleanup, students=options.students, workers=options.workers, duration=options.duration,
                           database=database, redis_url=redis_url, keep=options.keep,
                           bureau=bool(options.overview_url), say=_say, hosts=options.hosts,
                           restart=frozenset(f.kind for f in options.faults))
        students, proctors, n_classes = _plans(stack, options.students, options.rate)
        state = CensusState(students, think=think, sitting=options.duration, proctors=proctors,
                            overview_url=options.overview_url, bureau=stack.bureau_login,
                            hosts=stack.urls if options.hosts > 1 else ())
        state.resume_check = bool(options.faults)
        records = [FaultRecord(spec) for spec in options.faults]
        last_wave = max(p.login_at for p in students)
        _say(f"running {len(students)} students (signing in over {last_wave:.0f} s, each sitting "
             f"{options.duration:g} s) and {len(proctors)} proctors against {', '.join(stack.urls)}")
        app_roots = [s.process.pid for s in stack.servers if s.process is not None]
        before = cpu_sample(app_roots)
        log, seconds, user_errors = drive(stack.url, state, last_wave + options.duration,
                                          during=fault_schedule(stack, state, records) if records else None)
        cpu = cpu_use(before, cpu_sample(app_roots))
        exits = [s.process.poll() for s in stack.servers if s.process is not None]
        server_exit = next((e for e in exits if e is not None), None)  # None: all still serving, as they should be
        for server in stack.servers:
            stop_server(server)  # every commit is done: the referee reads what survived
        stored = read_stored(stack.database_url, [s["id"] for s in stack.sessions])
    verdict = judge(state.ledger.acknowledged(), stored, state.ledger.submits)
    setting = {"students": len(students), "classes": n_classes,
               "schools": len({s["school"] for s in stack.sessions[:n_classes]}), "proctors": len(proctors),
               "duration": options.duration, "rate": options.rate, "think": list(think), "workers": options.workers,
               "hosts": options.hosts,
               "database": stack.database, "redis": stack.redis, "overview_url": options.overview_url,
               "faults": [f"{f.kind}@{f.at:g}" for f in options.faults]}
    windows = fault_windows(records, log.timeline, options.fault_window, [t - state.t0 for t in state.dropped])
    saves = {kind: state.counts.pop(kind, 0) for kind in ("first", "changed", "same seq again", "after an error")}
    client = {"reloads": 0, "waited (Retry-After)": 0, **state.counts,
              "resent on a closed keep-alive connection": log.resent}
    return LoadSummary(setting=setting, seconds=seconds, endpoints=tuple(log.endpoints()), answers=verdict,
                       saves=saves, client=client, user_errors=tuple(user_errors), server_exit=server_exit,
                       problems=tuple(log.problems.most_common(SHOWN_PROBLEMS)), faults=tuple(windows),
                       errors_outside_faults=errors_outside(log.timeline, windows) if windows else 0, cpu=cpu)


def _interrupt_main(main: Any) -> Callable[..., None]:
    """A signal handler that interrupts `main` (the greenlet that owns the stack) as Ctrl-C would.

    The signal may arrive while a simulated user's greenlet runs; raising there
    would end only that user, so the interruption is thrown into `main` from the hub.
    """
    def handler(*_: Any) -> None:
        if gevent.getcurrent() is main:
            raise KeyboardInterrupt
        gevent.get_hub().loop.run_callback(main.throw, KeyboardInterrupt)

    return handler


def parse_args(argv: Sequence[str] | None = None) -> RunOptions:
    """Options of `python -m loadtest run` (argparse exits with status 2 on a bad one)."""
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=(
        "Census load test: starts ctcensus (gunicorn) on a fresh database, plays the students and proctors "
        "headless with locust, and checks that every acknowledged answer is stored."))
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("run", help="one run; prints requests/s, latency per endpoint, answers acknowledged "
                                        "vs stored")
    p.add_argument("--students", type=int, required=True, help="simulated students (whole classes are opened)")
    p.add_argument("--duration", type=float, required=True,
                   help="seconds each student sits, from its class's sign-in wave to its submit (the run lasts "
                        "this plus the sign-in waves, students / rate)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per host (default 2)")
    p.add_argument("--hosts", type=int, default=1,
                   help="app hosts: `ctcensus serve` processes on the same database and Redis, each with its own "
                        "instance folder; every user sends its requests to them in turn (default 1)")
    p.add_argument("--database", help="database URL (default DATABASE_URL, else an SQLite file in the instance); "
                                      "on PostgreSQL a database ctc_loadtest_<pid> is created and dropped")
    p.add_argument("--redis", help="Redis URL (default REDIS_URL, else the embedded Redis); keys get a per-run "
                                   "prefix and are deleted afterwards")
    p.add_argument("--rate", type=float, default=100.0, help="new students signing in per second (default 100); "
                                                             "classes start in waves")
    p.add_argument("--think", help="MIN,MAX seconds between a student's answers (default 10,30; 1,3 when "
                                   "--duration < 120)")
    p.add_argument("--overview-url", help="a page the bureau polls every 15 s during the run (e.g. the city "
                                          "overview); skipped when unset")
    p.add_argument("--max-error-rate", type=float, default=0.0,
                   help="share of requests allowed to fail with a 5xx or connection error (default 0)")
    p.add_argument("--fault", dest="faults", action="append", default=[], metavar="KIND@SECONDS",
                   help="do a fault at that second of the run: kill-worker, restart-redis, restart-postgres (a "
                        "private server is started for these two), drop-connections; repeatable")
    p.add_argument("--fault-window", type=float, default=10.0,
                   help="seconds after a fault's end in which errors are the fault's (default 10); a fault run "
                        "fails on any other error")
    p.add_argument("--keep", action="store_true", help="keep the instance folder (server.log, SQLite file)")
    p.add_argument("--json", dest="as_json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)
    if args.students < 1 or args.duration <= 0 or args.workers < 1 or args.hosts < 1 or args.rate <= 0:
        parser.error("--students, --duration, --workers, --hosts and --rate must be positive")
    try:
        think = parse_think(args.think) if args.think else None
        faults = tuple(parse_fault(text) for text in args.faults)
    except ValueError as exc:
        parser.error(str(exc))
    if args.fault_window < 0:
        parser.error("--fault-window must be 0 or more")
    return RunOptions(students=args.students, duration=args.duration, workers=args.workers, hosts=args.hosts,
                      database=args.database, redis=args.redis, rate=args.rate, think=think, overview_url=args.overview_url,
                      max_error_rate=args.max_error_rate, keep=args.keep, as_json=args.as_json, faults=faults,
                      fault_window=args.fault_window)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    options = parse_args(argv)
    handler = _interrupt_main(gevent.getcurrent())
    signal.signal(signal.SIGTERM, handler)  # a kill stops the stack as Ctrl-C does
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with SIGINT ignored
        signal.signal(signal.SIGINT, handler)
    try:
        summary = run(options)
    except StackError as exc:
        _say(f"could not set up the stack: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted; the server was stopped and the temporary data removed")
        return 130
    if options.as_json:
        print(json.dumps(summary_json(summary, options.max_error_rate), ensure_ascii=False))
    else:
        print(format_summary(summary, options.max_error_rate))
    return 1 if failure_reasons(summary, options.max_error_rate) else 0
