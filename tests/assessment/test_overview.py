"""The city test-day overview: counting by state, the classes not tested yet and the problem rules."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from assessment.db import utcnow
from assessment.errors import InvalidInput
from assessment.models import TestSession
from assessment.overview import (
    CityOverview,
    Counts,
    SessionFacts,
    Thresholds,
    city_overview,
    session_problems,
)
from assessment.presence import Presence
from assessment.windows import get_window

from .factories import seed_test_day

SECRET = "test-secret-key-0123456789"
NOW = datetime(2026, 5, 5, 2, 0, tzinfo=utcnow().tzinfo)


# --- the problem rules, without a database ---------------------------------------------------------

def facts(status: str = "open", *, first_start: datetime | None = NOW - timedelta(minutes=15),
          last_deadline: datetime | None = None, paused_at: datetime | None = None, **counts: int) -> SessionFacts:
    values = {"students": 20, "in_progress": 20} | counts
    return SessionFacts(id=7, class_id=3, status=status, created_at=NOW - timedelta(hours=1), paused_at=paused_at,
                        counts=Counts(**values), first_start=first_start, last_activity=None,
                        last_deadline=last_deadline)


def kinds(f: SessionFacts, thresholds: Thresholds | None = None, **kw: Any) -> list[str]:
    return [p.kind for p in session_problems(f, "5年1班", thresholds or Thresholds(), NOW, **kw)]


def test_many_means_at_least_three_students_and_a_fifth_of_them() -> None:
    t = Thresholds()
    assert not t.is_many(2, 2)  # a whole class of two: still only two children
    assert t.is_many(3, 3) and t.is_many(4, 20) and not t.is_many(3, 20)


def test_offline_and_stalled_need_many_students() -> None:
    assert kinds(facts(offline=3)) == []  # 3 of 20 is no classroom problem
    assert kinds(facts(offline=4)) == ["offline"]
    assert kinds(facts(offline=20), presence_available=False) == []  # unknown is not offline
    assert kinds(facts(stalled=5)) == ["stalled"]
    assert kinds(facts("paused", stalled=5)) == []  # a paused class is not stalled
    (problem,) = session_problems(facts(offline=6), "5年1班", Thresholds(), NOW)
    assert (problem.kind, problem.session_id, problem.class_name, problem.count, problem.of) == (
        "offline", 7, "5年1班", 6, 20)


def test_late_counts_from_the_first_start() -> None:
    late = {"in_progress": 14, "not_joined": 4, "joined": 2}
    assert kinds(facts(**late)) == ["late"]
    assert kinds(facts(first_start=NOW - timedelta(minutes=9), **late)) == []  # within 10 min of the start
    assert kinds(facts(first_start=None, in_progress=0, not_joined=20)) == []  # nobody started: not tested yet
    assert kinds(facts(in_progress=18, not_joined=2)) == []  # two absent children are normal


def test_overdue_paused_and_closed() -> None:
    ended = NOW - timedelta(minutes=25)
    assert kinds(facts(in_progress=0, submitted=20, last_deadline=ended)) == ["overdue"]
    (problem,) = session_problems(facts(in_progress=0, submitted=20, last_deadline=ended), "x", Thresholds(), NOW)
    assert problem.minutes == 25
    assert kinds(facts(in_progress=0, submitted=20, last_deadline=NOW - timedelta(minutes=5))) == []
    assert kinds(facts(in_progress=1, submitted=19, last_deadline=ended)) == []  # someone still writes
    assert kinds(facts("paused", paused_at=NOW - timedelta(minutes=16))) == ["paused"]
    assert kinds(facts("paused", paused_at=NOW - timedelta(minutes=14))) == []
    assert kinds(facts("closed", offline=20, stalled=20, in_progress=0, last_deadline=ended)) == []


def test_thresholds_come_from_one_mapping_and_are_checked() -> None:
    t = Thresholds.from_mapping({"offline_after_seconds": 60, "many_students": 5})
    assert (t.offline_after_seconds, t.many_students, t.stalled_after_seconds) == (60, 5, 600)
    assert kinds(facts(offline=4), t) == []
    with pytest.raises(InvalidInput, match=r"unknown overview threshold.*offline_after"):
        Thresholds.from_mapping({"offline_after": 60})
    with pytest.raises(InvalidInput, match="many_share must be a share from 0 to 1; got 20"):
        Thresholds(many_share=20)
    with pytest.raises(InvalidInput, match=r"stalled_after_seconds must be a whole number >= 1; got 0"):
        Thresholds(stalled_after_seconds=0)


def test_counts_add_up() -> None:
    a = Counts(students=5, not_joined=1, joined=1, in_progress=1, submitted=1, timed_out=1, offline=1)
    total = a + a
    assert (total.students, total.done, total.not_started, total.offline) == (10, 4, 4, 2)
    assert total.percent_done == 40.0 and Counts().percent_done is None


# --- a small city in every state, through the services ----------------------------------------------

@pytest.fixture
def city(db, app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    svc = app.extensions["ctcensus"]
    return seed_test_day(db, Presence(svc.redis, svc.redis_prefix), secret_key=SECRET)


def test_every_state_is_counted_once(city) -> None:  # type: ignore[no-untyped-def]
    db, now = city["db"], city["now"]
    overview = city_overview(db, get_window(db, "113"), presence=city["presence"], now=now)
    assert overview.presence_available
    assert [d.source_id for d in overview.districts] == ["kl-a", "kl-b"]
    school = overview.school("es-a1")[1]  # type: ignore[index]
    s1 = next(s for s in school.sessions if s.id == city["s1"].id)
    c = s1.counts
    assert (c.students, c.not_joined, c.joined, c.in_progress, c.submitted, c.timed_out) == (8, 1, 1, 3, 1, 2)
    assert (c.locked, c.offline, c.stalled) == (1, 2, 2)
    assert c.percent_done == pytest.approx(37.5)
    assert s1.first_start == now - timedelta(minutes=20)
    assert abs(s1.last_activity - (now - timedelta(seconds=5))) < timedelta(milliseconds=1)  # type: ignore[operator]
    # (seat 3's activity in Redis, to the 0.1 ms Lua prints)
    assert [p.kind for p in s1.problems] == []  # 2 of 3 offline/stalled: not "many" (3 needed)
    # the class without a session and the one whose session nobody started; not grade 6, not the empty class
    untested = {u.name: u.session_id for u in school.untested}
    assert untested == {"五年二班": None, "五年三班": city["s3"].id}
    assert school.classes == 3  # grade-5 classes with students
    b = overview.school("es-b1")[1]  # type: ignore[index]
    assert (b.counts.submitted, b.counts.percent_done, b.untested, b.running) == (3, 100.0, (), 0)
    city_counts = overview.counts
    assert city_counts.students == 8 + 2 + 3 and city_counts.done == 6
    assert (overview.classes, overview.untested, overview.running) == (4, 2, 2)


def test_a_classroom_going_offline_is_a_school_problem(city) -> None:  # type: ignore[no-untyped-def]
    db, now, a = city["db"], city["now"], city["attempts"]
    # the third writer drops off too: last heard 5 minutes ago. A touch older than the one recorded moves
    # nothing back (it is another host's late touch), so the recorded one goes first.
    presence, session_id = city["presence"], city["s1"].id
    presence.read(session_id)  # the fixture's queued touches are written
    presence.client.hdel(f"{presence.prefix}live:{session_id}", a[2].id)
    presence.touch(session_id, a[2].id, now - timedelta(minutes=5))
    overview = city_overview(db, get_window(db, "113"), presence=city["presence"], now=now)
    school = overview.school("es-a1")[1]  # type: ignore[index]
    assert [(p.kind, p.count, p.of) for p in school.problems] == [("offline", 3, 3)]
    assert [s.source_id for s in overview.problem_schools] == ["es-a1"]
    # eleven minutes on, nobody has saved anything for ten minutes: stalled too
    later = city_overview(db, get_window(db, "113"), presence=city["presence"], now=now + timedelta(minutes=11))
    assert sorted(p.kind for p in later.school("es-a1")[1].problems) == ["offline", "stalled"]  # type: ignore[index]


def test_without_redis_joined_and_offline_are_unknown_not_offline(city) -> None:  # type: ignore[no-untyped-def]
    db = city["db"]
    overview = city_overview(db, get_window(db, "113"), presence=None, now=city["now"])
    assert not overview.presence_available
    s1 = next(s for s in overview.school("es-a1")[1].sessions if s.id == city["s1"].id)  # type: ignore[index]
    assert (s1.counts.not_joined, s1.counts.joined, s1.counts.offline) == (2, 0, 0)
    assert s1.counts.in_progress == 3 and not s1.problems


def test_a_few_queries_whatever_the_size(city, app) -> None:  # type: ignore[no-untyped-def]
    db = city["db"]
    statements: list[str] = []
    engine = db.get_bind()

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    window = get_window(db, "113")
    event.listen(engine, "before_cursor_execute", count)
    try:
        city_overview(db, window, presence=city["presence"], now=city["now"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2, statements  # the roster, the sessions by state (Redis counts the presence)


def test_the_overview_survives_json(city) -> None:  # type: ignore[no-untyped-def]
    db = city["db"]
    overview = city_overview(db, get_window(db, "113"), presence=city["presence"], now=city["now"])
    again = CityOverview.from_json(overview.to_json())
    assert again == overview
    assert again.districts[0].schools[0].sessions[0].first_start.tzinfo is not None  # type: ignore[union-attr]
    assert replace(again, window_code="x") != overview


def test_a_paused_session_is_not_timed_out(city) -> None:  # type: ignore[no-untyped-def]
    db, now = city["db"], city["now"]
    s1 = db.get(TestSession, city["s1"].id)
    s1.status, s1.paused_at = "paused", now - timedelta(minutes=20)
    db.commit()
    overview = city_overview(db, get_window(db, "113"), presence=city["presence"], now=now)
    line = next(s for s in overview.school("es-a1")[1].sessions if s.id == s1.id)  # type: ignore[index]
    # the never-expired attempt past its stored deadline still writes: the pause stopped its clock
    assert (line.counts.in_progress, line.counts.timed_out, line.counts.stalled) == (4, 1, 0)
    assert [p.kind for p in line.problems] == ["offline", "paused"]


def test_redis_counts_presence_in_one_script(app) -> None:  # type: ignore[no-untyped-def]
    svc = app.extensions["ctcensus"]
    presence = Presence(svc.redis, svc.redis_prefix)
    now = utcnow()
    presence.touch(1, 10, now - timedelta(seconds=5))  # signed in, not started
    presence.touch(1, 11, now - timedelta(seconds=5), active=True)  # writing, heard from
    presence.touch(1, 12, now - timedelta(minutes=5))  # writing, quiet
    svc.redis.hset(f"{svc.redis_prefix}live:1", "14", "not json")  # signed in; its times unreadable
    counts = presence.tally({1: ("10,14,15", "11,12,13"), 2: ("", "20")}, now - timedelta(seconds=90))
    assert counts is not None
    assert (counts[1].joined, counts[1].offline) == (2, 2)  # 10 and 14 signed in; 12 quiet, 13 never heard from
    assert abs(counts[1].last_active - (now - timedelta(seconds=5))) < timedelta(milliseconds=1)  # type: ignore[operator]
    assert (counts[2].joined, counts[2].offline, counts[2].last_active) == (0, 1, None)
    assert presence.tally({}, now) == {}
