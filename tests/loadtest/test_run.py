"""`python -m loadtest run`, for real: it starts its own stack on the suite's database kind and referees the answers.

CI runs the suite on the embedded default and on PostgreSQL + Redis (DATABASE_URL / REDIS_URL); the
command then makes its own database `ctc_loadtest_<pid>` and Redis key prefix, and removes them.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _loadtest(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtest", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def test_two_hundred_students_for_twenty_seconds_lose_no_acknowledged_answer() -> None:
    """Issue 10's CI line: 200 students, 20 s, every acknowledged answer stored (about 50-60 s on 2 cores)."""
    run = _loadtest("run", "--students", "200", "--duration", "20", timeout=300)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-4000:]}"
    answers = re.search(r"^answers: acknowledged (\d+), stored (\d+) \(covering every acknowledgement\)$",
                        run.stdout, re.MULTILINE)
    assert answers, run.stdout
    assert int(answers[1]) == int(answers[2]) > 0
    assert re.search(r"^requests: \d+ in [\d.]+ s = [\d.]+ requests/s; failures 0; errors \(5xx/connection\) 0 ",
                     run.stdout, re.MULTILINE), run.stdout
    for endpoint in ("login", "start", "attempt (reload)", "answer", "answer (changed)", "heartbeat", "proctor status",
                     "submit"):
        assert re.search(rf"^{re.escape(endpoint)} +\d+ +0 +0 ", run.stdout, re.MULTILINE), endpoint
    assert "submits: acknowledged 200, stored 200" in run.stdout
    assert run.stdout.rstrip().endswith("verdict: PASS")


def test_bad_options_are_refused_before_anything_starts() -> None:
    run = _loadtest("run", "--students", "5", "--duration", "10", "--think", "3,1", timeout=60)
    assert run.returncode == 2 and "--think '3,1': expected 0 <= MIN <= MAX" in run.stderr
    run = _loadtest("run", "--students", "0", "--duration", "10", timeout=60)
    assert run.returncode == 2 and "must be positive" in run.stderr
    run = _loadtest("run", "--students", "5", "--duration", "10", "--hosts", "0", timeout=60)
    assert run.returncode == 2 and "--hosts" in run.stderr and "must be positive" in run.stderr
