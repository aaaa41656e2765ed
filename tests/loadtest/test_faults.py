"""Issue 10.5, the fault proof: faults during a wave lose no acknowledged answer, and every student resumes.

`python -m loadtest run --fault ...` for real, at a bounded size, on the suite's configuration: on the
embedded default (SQLite + embedded Redis) the embedded redis-server is restarted and the PostgreSQL
restart is skipped with its reason; with DATABASE_URL / REDIS_URL set, the run starts a private
redis-server and a private PostgreSQL cluster to restart (the machine's shared ones are never touched).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.faults import FaultRecord, FaultSpec, Request, cut_short, fault_windows, format_window, parse_fault
from loadtest.report import errors_outside

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("kill-worker@8", "restart-redis@15", "drop-connections@22", "restart-postgres@29")


def test_fault_run_stores_every_acknowledged_answer_once_and_students_resume() -> None:
    """150 students for 40 s, each fault once (about 70-100 s on 2 shared cores)."""
    args = [sys.executable, "-m", "loadtest", "run", "--students", "150", "--duration", "40"]
    for fault in FAULTS:
        args += ["--fault", fault]
    run = subprocess.run(args, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=400)
    out = run.stdout
    assert run.returncode == 0, f"{out}\n{run.stderr[-4000:]}"
    answers = re.search(r"^answers: acknowledged (\d+), stored (\d+) \(covering every acknowledgement\)$", out,
                        re.MULTILINE)
    assert answers and int(answers[1]) > 0, out
    assert "submits: acknowledged 150, stored 150" in out
    assert "students resumed: 150 of 150 seated" in out
    assert "errors outside the fault windows: 0" in out
    assert re.search(r"^fault kill-worker@8: done .*SIGKILL to worker pid \d+; the master .* forked worker pid",
                     out, re.MULTILINE), out
    assert re.search(r"^fault restart-redis@15: done .*SIGKILL to the (private|embedded) redis-server", out,
                     re.MULTILINE), out
    cut = re.search(r"^fault drop-connections@22: done .*closed by the client right after sending \((\d+) saves\)",
                    out, re.MULTILINE)
    assert cut and int(cut[1]) > 0, out
    assert re.search(r"^answer \(after a drop\) +\d+ +0 +0 ", out, re.MULTILINE), out
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        assert re.search(r"^fault restart-postgres@29: done .*pg_ctl stop -m immediate", out, re.MULTILINE), out
    else:
        assert "fault restart-postgres@29: SKIPPED: the database is an SQLite file" in out
    assert "NONE" not in out  # every fault was followed by a success
    assert out.rstrip().endswith("verdict: PASS")


def test_fault_options_are_checked() -> None:
    assert parse_fault("kill-worker@10") == FaultSpec("kill-worker", 10.0)
    for bad in ("kill-worker", "reboot@3", "restart-redis@soon", "drop-connections@-1"):
        with pytest.raises(ValueError, match="--fault"):
            parse_fault(bad)


def test_fault_windows_count_what_clients_saw_until_the_next_fault() -> None:
    first = FaultRecord(FaultSpec("restart-postgres", 10), started=10.0, ended=12.0, detail="restarted")
    second = FaultRecord(FaultSpec("kill-worker", 20), started=20.0, ended=20.1, detail="killed")
    skipped = FaultRecord(FaultSpec("restart-redis", 5), skipped="no Redis here")
    timeline = [
        Request("answer", 9.0, 9.5, 200, failed=False),  # before: not counted
        Request("answer", 10.0, 10.4, 503, failed=False),  # waited out (Retry-After): still an error
        Request("login", 10.5, 11.5, 500, failed=True),
        Request("answer", 12.5, 12.6, 200, failed=False),  # the first success after the fault
        Request("heartbeat", 19.0, 21.0, 0, failed=False, resent=True),  # the next fault's
    ]
    w1, w2, w3 = fault_windows([first, second, skipped], timeline, window=10.0, dropped=[11.0, 25.0])
    assert (w1.start, w1.end) == (10.0, 20.0)  # ends where the next fault starts
    assert w1.statuses == {"200": 1, "500": 1, "503": 1} and w1.errors == 2 and w1.dropped == 1
    assert w1.errors_until == pytest.approx(1.5) and w1.first_success == pytest.approx(2.6)
    assert w1.longest_wait == pytest.approx(1.0)
    assert w2.statuses == {"0 (connection closed, sent again)": 1} and w2.first_success is None
    assert "first success after the fault +NONE" in format_window(w2)
    assert format_window(w3) == "fault restart-redis@5: SKIPPED: no Redis here"


def test_only_real_errors_outside_the_windows_fail_a_fault_run() -> None:
    fault = FaultRecord(FaultSpec("kill-worker", 10), started=10.0, ended=10.2, detail="killed")
    timeline = [
        Request("answer", 11.0, 11.1, 0, failed=False, resent=True),  # in the window
        Request("heartbeat", 40.0, 40.1, 0, failed=False, resent=True),  # an idle keep-alive closed: no error
        Request("login", 50.0, 50.5, 500, failed=True),  # an error no fault explains
        Request("answer", 60.0, 60.1, 503, failed=False),  # waited out, still no fault's
    ]
    windows = fault_windows([fault], timeline, window=10.0)
    assert errors_outside(timeline, windows) == 2


def test_a_reply_cut_off_mid_body_is_no_reply() -> None:
    """A worker killed while answering leaves headers and part of a body: a browser's fetch fails, so it is re-sent."""
    assert cut_short("120", b'{"token": "abc"')
    assert cut_short("10", None)
    assert not cut_short("15", b'{"token": "abc"}'[:15])
    assert not cut_short(None, b"")  # no Content-Length (chunked): nothing to compare
    assert not cut_short("many", b"")
