"""The load test's report (loadtest/report.py): percentiles, per-endpoint figures, the summary and its verdict."""
from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.referee import Stored, judge
from loadtest.report import (
    EndpointStats,
    LoadSummary,
    RequestLog,
    failure_reasons,
    format_summary,
    percentile,
    summary_json,
)

SETTING = {"students": 200, "classes": 9, "schools": 4, "proctors": 9, "duration": 20.0, "rate": 100.0,
           "think": [1.0, 3.0], "workers": 2, "database": "SQLite file (embedded default)",
           "redis": "embedded Redis", "overview_url": None}


@given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=60), st.sampled_from([0, 1, 50, 95, 99, 100]))
def test_percentiles_interpolate_as_numpy_does(values: list[float], q: int) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_percentile_edges() -> None:
    assert math.isnan(percentile([], 50))
    assert percentile([7.0], 99) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_the_request_log_tells_errors_from_other_failures() -> None:
    log = RequestLog()
    log.on_request(name="answer", response_time=10.0, response=SimpleNamespace(status_code=200))
    log.on_request(name="answer", response_time=30.0, response=SimpleNamespace(status_code=503), exception=Exception())
    log.on_request(name="answer", response_time=20.0, response=SimpleNamespace(status_code=0), exception=Exception())
    log.on_request(name="login", response_time=5.0, response=SimpleNamespace(status_code=401), exception=Exception())
    log.on_request(name="login", response_time=5.0, response=None, exception=Exception())  # no response at all
    log.on_request(name="submit", response_time=1.0, response=SimpleNamespace(status_code=0),
                   context={"resent": True})  # a closed kept-alive connection, sent again: counted apart
    answer, login = log.endpoints()
    assert (answer.name, answer.count, answer.failures, answer.errors, answer.p50_ms) == ("answer", 3, 2, 2, 20.0)
    assert (login.name, login.count, login.failures, login.errors) == ("login", 2, 2, 1)
    assert log.resent == 1
    assert log.problems == {"answer: Exception": 2, "login: Exception": 2}


def _summary(acknowledged: dict[tuple[int, str], int], stored: Stored, endpoints: list[EndpointStats],
             submits: int = 2, **kw: Any) -> LoadSummary:
    return LoadSummary(setting=SETTING, seconds=20.0, endpoints=tuple(endpoints),
                       answers=judge(acknowledged, stored, submits),
                       saves={"first": 2, "changed": 1, "same seq again": 1, "after an error": 0},
                       client={"reloads": 3, "resent on a closed keep-alive connection": 1}, **kw)


GOOD = [EndpointStats.of("login", [10.0, 20.0]), EndpointStats.of("answer", [5.0, 7.0, 9.0, 11.0])]
ACKS = {(1, "a"): 2, (2, "b"): 1}
STORED = Stored(answers=((1, "a", 2), (2, "b", 1)), submitted=2)


def test_a_clean_run_prints_every_figure_and_passes() -> None:
    summary = _summary(ACKS, STORED, GOOD)
    text = format_summary(summary)
    assert "requests: 6 in 20.0 s = 0.3 requests/s; failures 0; errors (5xx/connection) 0 (0.00%)" in text
    assert re.search(r"^answer\s+4\s+0\s+0\s+8\s+11\s+11$", text, re.MULTILINE)
    assert "answers: acknowledged 2, stored 2 (covering every acknowledgement)" in text
    assert "saves acknowledged: first 2, changed 1, same seq again 1, after an error 0" in text
    assert "client: reloads 3, resent on a closed keep-alive connection 1" in text
    assert "submits: acknowledged 2, stored 2" in text
    assert text.endswith("verdict: PASS")
    assert failure_reasons(summary) == []
    data = json.loads(json.dumps(summary_json(summary)))
    assert data["answers"] == {"acknowledged": 2, "stored": 2, "covered": True, "missing": [], "behind": [],
                               "duplicates": []}
    assert data["passed"] and data["requests"] == 6 and data["endpoints"][1]["p95_ms"] == pytest.approx(10.7)


def test_lost_answers_errors_and_other_failures_each_fail_the_run() -> None:
    lost = _summary({**ACKS, (3, "c"): 1}, STORED, GOOD)
    assert "NOT covering every acknowledgement: attempt 3 item c seq 1 missing" in format_summary(lost)
    assert failure_reasons(lost) == ["1 acknowledged answers are not stored"]

    errors = [EndpointStats("answer", 100, failures=3, errors=2, p50_ms=1, p95_ms=2, p99_ms=3)]
    summary = _summary(ACKS, STORED, errors, problems=(("answer: status 0: ConnectionRefusedError()", 2),
                                                       ("answer: status 409: not_started", 1)))
    assert "\n  failed 2x: answer: status 0: ConnectionRefusedError()\n" in format_summary(summary)
    assert failure_reasons(summary, max_error_rate=0.05) == [
        "1 requests failed otherwise (an unexpected 4xx or a wrong body: a bug)"]
    assert failure_reasons(summary)[0] == ("2 requests failed with a 5xx or connection error "
                                           "(2.00% > --max-error-rate 0.00%)")
    assert not summary_json(summary)["passed"]

    crashed = _summary(ACKS, STORED, GOOD, user_errors=("KeyError('items')",))
    assert failure_reasons(crashed) == ["1 exceptions in the simulated users, e.g. KeyError('items')"]
    nothing = _summary({}, Stored(answers=(), submitted=0), GOOD, submits=0)
    assert failure_reasons(nothing) == ["no answer was acknowledged (run longer, or with a shorter --think)"]
    died = _summary(ACKS, STORED, GOOD, server_exit=1)
    assert failure_reasons(died) == ["the server stopped during the run (ctcensus serve exit status 1; "
                                     "--keep keeps its server.log)"]
    unsubmitted = _summary(ACKS, Stored(answers=STORED.answers, submitted=1), GOOD)
    assert failure_reasons(unsubmitted) == ["1 acknowledged submits are not stored"]
