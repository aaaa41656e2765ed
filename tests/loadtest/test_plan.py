"""Who sits the load test and when (loadtest/plan.py): class choice, class-start waves, think time."""
from __future__ import annotations

from typing import Any

import pytest

from loadtest.plan import choose_classes, default_think, heartbeat_seconds, login_offsets, parse_think


def _class(cid: int, school: str, grade: int, students: int, open_session: int | None = None) -> dict[str, Any]:
    return {"id": cid, "school": school, "grade": grade, "students": students, "open_session": open_session}


CLASSES = [
    _class(1, "es-001", 5, 20, open_session=7),  # the demo's live class: taken
    _class(2, "es-001", 5, 25),
    _class(3, "es-002", 5, 25),
    _class(4, "es-002", 5, 0),  # empty
    _class(5, "js-001", 8, 30),
    _class(6, "js-001", 8, 30),
    _class(7, "js-002", 8, 30),
    _class(8, "es-003", 3, 30),  # not a census grade
]


def test_classes_are_taken_school_by_school_alternating_grades_until_they_hold_enough() -> None:
    assert [c["id"] for c in choose_classes(CLASSES, 1)] == [2]
    assert [c["id"] for c in choose_classes(CLASSES, 26)] == [2, 5]
    assert [c["id"] for c in choose_classes(CLASSES, 85)] == [2, 5, 6]  # js-001's classes together
    assert [c["id"] for c in choose_classes(CLASSES, 86)] == [2, 5, 6, 3]
    assert [c["id"] for c in choose_classes(CLASSES, 140)] == [2, 5, 6, 3, 7]


def test_a_roster_too_small_is_refused_with_what_it_holds() -> None:
    with pytest.raises(ValueError, match=r"--students 141: the roster has only 140 students .* at most 140"):
        choose_classes(CLASSES, 141)
    with pytest.raises(ValueError, match="at least 1"):
        choose_classes(CLASSES, 0)


def test_classes_sign_in_in_waves_at_the_overall_rate() -> None:
    offsets = login_offsets([25, 10, 5], rate=10, seed=1)
    assert [len(o) for o in offsets] == [25, 10, 5]
    for students, start, spread in zip(offsets, (0.0, 2.5, 3.5), (2.5, 1.0, 0.5)):
        assert students == sorted(students)
        assert all(start <= t < start + spread for t in students)  # a class within its own few seconds
    assert login_offsets([25, 10, 5], rate=10, seed=1) == offsets  # seeded
    with pytest.raises(ValueError, match="--rate"):
        login_offsets([3], rate=0)


def test_think_time_defaults_scale_for_short_runs_and_the_heartbeat_follows() -> None:
    assert default_think(20) == (1.0, 3.0) and default_think(119.9) == (1.0, 3.0)
    assert default_think(120) == (10.0, 30.0)
    assert heartbeat_seconds((10.0, 30.0)) == 30.0  # the player's
    assert heartbeat_seconds((1.0, 3.0)) == pytest.approx(3.0)
    assert heartbeat_seconds((0.0, 0.0)) == 0.5  # never a busy loop
    assert parse_think("1,3") == (1.0, 3.0) and parse_think(" 0.5 , 2 ") == (0.5, 2.0)
    for bad in ("3", "3,1", "-1,2", "a,b", "1,2,3"):
        with pytest.raises(ValueError, match=f"--think '{bad}'"):
            parse_think(bad)
