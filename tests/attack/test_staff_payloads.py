"""Hypothesis-made JSON bodies for the proctor's one action that reads a body, extending a student's time.

Whatever the body (wrong types, NaN, huge numbers, nesting, markup), the answer is a 4xx JSON error that
changes nothing, or, for 1 to 14,400 seconds (or the same in whole minutes), a 200 that moves the deadline
by exactly that much. Bounded: 60 examples, derandomized under CI.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from assessment.text import control_character

from .conftest import World, snapshot, staff_client, student_token

MAX_EXTRA = 4 * 3600
numbers = (st.integers(min_value=-(2**70), max_value=2**70) | st.integers(min_value=1, max_value=MAX_EXTRA)
           | st.floats(allow_nan=True, allow_infinity=True) | st.booleans() | st.none()
           | st.text(max_size=10) | st.sampled_from(["60", "<script>alert(1)</script>", [60], {"n": 60}]))
bodies = (st.fixed_dictionaries({}, optional={"seconds": numbers, "minutes": numbers})
          | st.dictionaries(st.text(max_size=8), numbers, max_size=3) | st.lists(numbers, max_size=3) | numbers)


def _extra_seconds(engine: Engine, attempt_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT extra_seconds FROM attempts WHERE id = :a"), {"a": attempt_id}).scalar_one())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _expected(body: Any) -> int | None:
    """The seconds the view adds for `body`, or None for a body it must refuse."""
    if not isinstance(body, dict):
        return None
    if any(control_character(s, allow_line_breaks=True) for s in _strings(body)):
        return None  # any string with a control character refuses the whole body (webapp/body.py)
    seconds = body.get("seconds")
    minutes = body.get("minutes")
    if seconds is None and isinstance(minutes, int) and not isinstance(minutes, bool):
        seconds = minutes * 60
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_EXTRA:
        return None
    return seconds


def test_extend_bodies_never_5xx_and_refusals_change_nothing(app: Flask, two_schools: World, watch: Engine) -> None:
    world = two_schools
    student_token(app.test_client(), world.a.tickets[0])  # a started attempt: extending it moves its deadline
    client, csrf = staff_client(app, "a-proctor")
    attempt_id = world.a.attempt_ids[0]
    url = f"/proctor/api/attempts/{attempt_id}/extend"

    @given(body=bodies)
    @example(body={"minutes": 10**4299})  # regression: its seconds had more digits than Python prints (a 500)
    @example(body={"seconds": 10**4299})
    @example(body={"minutes": 240})
    @example(body={"seconds": 1, "minutes": "\x1f"})  # found by CI: a control character refuses the whole body
    @settings(max_examples=60, suppress_health_check=list(HealthCheck), deadline=None)
    def check(body: Any) -> None:
        before, extra = snapshot(watch), _extra_seconds(watch, attempt_id)
        response = client.post(url, data=json.dumps(body), headers={"X-CSRF-Token": csrf,
                                                                    "Content-Type": "application/json"})
        assert response.status_code < 500 and response.mimetype == "application/json", response.status_code
        expected = _expected(body)
        if expected is None or response.status_code >= 400:
            assert expected is None, (body, response.get_json())
            assert 400 <= response.status_code < 500 and set(response.get_json()) >= {"error", "message"}
            assert "<script" not in response.get_json()["message"]
            assert snapshot(watch) == before
        else:
            assert response.status_code == 200 and _extra_seconds(watch, attempt_id) == extra + expected

    check()
