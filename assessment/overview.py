"""The city's test day at a glance: every district, school and class session of a window, live.

The counts come from two set-based queries: GROUP BY over the window's attempts joined to their
sessions, and the roster's grade-5/8 classes with their size. One Redis script then counts,
against the presence of the sessions still running, who signed in and who went quiet. The problem rules (many
students offline, stalled or late, a session past its end, a long pause) are pure functions
of those counts, with their thresholds in `Thresholds`. `webapp` shares one snapshot among
every reader through `SnapshotCache`, so the city is computed at most once every few seconds
however many people watch it.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, func, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from .db import utcnow
from .errors import InvalidInput
from .models import Attempt, District, School, SchoolClass, Student, TestSession, TestWindow
from .presence import Presence

__all__ = [
    "CENSUS_GRADES",
    "PROBLEM_KINDS",
    "CityOverview",
    "ClassFacts",
    "Counts",
    "DistrictLine",
    "Problem",
    "SchoolLine",
    "SessionFacts",
    "SessionLine",
    "Thresholds",
    "UntestedClass",
    "build_overview",
    "city_overview",
    "session_problems",
]

CENSUS_GRADES = (5, 8)
PROBLEM_KINDS = ("offline", "stalled", "late", "overdue", "paused")


@dataclass(frozen=True)
class Thresholds:
    """When the overview calls something a problem. One place, with defaults that suit a 35-40 minute sitting.

    The player sends a heartbeat every 30 s, so 90 s without one means three were missed.
    "Many" means at least `many_students` students and at least `many_share` of the
    students concerned: one absent or offline child is the proctor's business, a
    classroom's network is the bureau's.
    """

    offline_after_seconds: int = 90  # in progress, no request (heartbeat, save) for this long
    stalled_after_seconds: int = 600  # in progress, no answer saved (nor the start) for this long
    late_after_seconds: int = 600  # not started this long after the first classmate started
    overdue_after_seconds: int = 600  # still open this long after the last student's time ran out
    paused_after_seconds: int = 900  # paused for this long
    many_students: int = 3
    many_share: float = 0.2

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "many_share":
                ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
                expected = "a share from 0 to 1"
            else:
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
                expected = "a whole number >= 1"
            if not ok:
                raise InvalidInput(f"overview threshold {f.name} must be {expected}; got {value!r}")

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Thresholds:
        """Thresholds from a mapping (e.g. OVERVIEW_THRESHOLDS in the instance's config.py); unknown keys refused."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInput(f"unknown overview threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    def is_many(self, n: int, of: int) -> bool:
        """Whether `n` students out of `of` are "many"."""
        return n >= self.many_students and n >= self.many_share * of


@dataclass(frozen=True)
class Counts:
    """Students of a session (or the sum over sessions) by state.

    not_joined + joined + in_progress + submitted + timed_out == students. `locked`,
    `offline` and `stalled` are subsets of the other states. `joined` means signed in
    but not started, as the proctor sees it; it comes from Redis presence and is 0 when
    that is unavailable.
    """

    students: int = 0
    not_joined: int = 0
    joined: int = 0
    in_progress: int = 0
    submitted: int = 0
    timed_out: int = 0
    locked: int = 0
    offline: int = 0
    stalled: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f) + getattr(other, f) for f in _COUNT_FIELDS))

    @property
    def not_started(self) -> int:
        return self.not_joined + self.joined

    @property
    def done(self) -> int:
        return self.submitted + self.timed_out

    @property
    def percent_done(self) -> float | None:
        """Submitted or timed out, percent of the students (None without students)."""
        return 100.0 * self.done / self.students if self.students else None


_COUNT_FIELDS = tuple(f.name for f in dataclasses.fields(Counts))


@dataclass(frozen=True)
class Problem:
    """Something the bureau should look at in one session.

    `count` of `of` students concerned (offline, stalled, late). `minutes` says how long
    (overdue, paused), otherwise the rule's threshold in minutes.
    """

    kind: str
    session_id: int
    class_name: str
    count: int = 0
    of: int = 0
    minutes: int = 0


@dataclass(frozen=True)
class SessionFacts:
    """What the queries and Redis know of one session: the input of the problem rules."""

    id: int
    class_id: int
    status: str  # open | paused | closed
    created_at: datetime
    paused_at: datetime | None
    counts: Counts
    first_start: datetime | None  # the first student's start
    last_activity: datetime | None  # last start, saved answer, submit or (Redis) activity
    last_deadline: datetime | None  # the latest deadline of its students

    @property
    def started(self) -> bool:
        return self.first_start is not None


@dataclass(frozen=True)
class ClassFacts:
    """A class on the roster that sits the census (grade 5 or 8), or has a session in the window."""

    id: int
    name: str
    grade: int
    students: int
    school_id: int
    school_source_id: str
    school_name_zh: str
    school_name_en: str
    district_id: int
    district_source_id: str
    district_name_zh: str
    district_name_en: str


class _Sums:
    """A unit's students by state, running sessions and last activity: the sums over its parts."""

    def _parts(self) -> Sequence[Any]:
        raise NotImplementedError

    @functools.cached_property
    def counts(self) -> Counts:
        """The sum over the parts (computed once: the result is frozen)."""
        return sum((p.counts for p in self._parts()), Counts())

    @property
    def running(self) -> int:
        """Sessions open or paused."""
        return sum(p.running for p in self._parts())

    @property
    def last_activity(self) -> datetime | None:
        return _latest(p.last_activity for p in self._parts())


class _SchoolSums(_Sums):
    """What a district and the city add up from their schools."""

    def _schools(self) -> Iterable[SchoolLine]:
        raise NotImplementedError

    @property
    def classes(self) -> int:
        return sum(s.classes for s in self._schools())

    @property
    def untested(self) -> int:
        """Classes not yet tested."""
        return sum(len(s.untested) for s in self._schools())

    @property
    def problem_schools(self) -> tuple[SchoolLine, ...]:
        return tuple(s for s in self._schools() if s.problems)


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass(frozen=True)
class SessionLine:
    """One class session on the overview."""

    id: int
    class_id: int
    class_name: str
    grade: int
    status: str
    counts: Counts
    first_start: datetime | None
    last_activity: datetime | None
    ends_at: datetime | None
    problems: tuple[Problem, ...] = ()

    @property
    def started(self) -> bool:
        return self.first_start is not None

    @property
    def running(self) -> int:
        return int(self.status != "closed")


@dataclass(frozen=True)
class UntestedClass:
    """A class not tested yet: no session in the window (session_id None), or one that nobody has started."""

    class_id: int
    name: str
    grade: int
    students: int
    session_id: int | None = None


@dataclass(frozen=True)
class SchoolLine(_Sums):
    id: int
    source_id: str
    name_zh: str
    name_en: str
    classes: int  # census classes (grade 5 or 8) with students on the roster
    sessions: tuple[SessionLine, ...] = ()
    untested: tuple[UntestedClass, ...] = ()

    def _parts(self) -> Sequence[SessionLine]:
        return self.sessions

    def name(self, lang: str) -> str:
        return (self.name_en or self.name_zh) if lang == "en" else self.name_zh

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(p for s in self.sessions for p in s.problems)


@dataclass(frozen=True)
class DistrictLine(_SchoolSums):
    id: int
    source_id: str
    name_zh: str
    name_en: str
    schools: tuple[SchoolLine, ...] = ()

    def _parts(self) -> Sequence[SchoolLine]:
        return self.schools

    def _schools(self) -> Iterable[SchoolLine]:
        return self.schools

    def name(self, lang: str) -> str:
        return (self.name_en or self.name_zh) if lang == "en" else self.name_zh


@dataclass(frozen=True)
class CityOverview(_SchoolSums):
    """Every district, school and class session of one window, at `computed_at`."""

    window_code: str
    window_name: str
    computed_at: datetime
    thresholds: Thresholds
    presence_available: bool  # False: Redis was unavailable, so joined and offline are unknown (0)
    districts: tuple[DistrictLine, ...] = ()

    def _parts(self) -> Sequence[DistrictLine]:
        return self.districts

    def _schools(self) -> Iterable[SchoolLine]:
        return self.schools

    @property
    def schools(self) -> tuple[SchoolLine, ...]:
        return tuple(s for d in self.districts for s in d.schools)

    def district(self, source_id: str) -> DistrictLine | None:
        return next((d for d in self.districts if d.source_id == source_id), None)

    def school(self, source_id: str) -> tuple[DistrictLine, SchoolLine] | None:
        return next(((d, s) for d in self.districts for s in d.schools if s.source_id == source_id), None)

    def to_json(self) -> str:
        """The whole overview as JSON text (what the shared cache stores)."""
        return json.dumps(_encode(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CityOverview:
        value = _decode(cls, json.loads(text))
        assert isinstance(value, CityOverview)
        return value


# --- the problem rules (pure) ---------------------------------------------------------------------

def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def session_problems(facts: SessionFacts, class_name: str, thresholds: Thresholds, now: datetime, *,
                     presence_available: bool = True) -> tuple[Problem, ...]:
    """The problems of one session at `now`; a closed session has none."""
    if facts.status == "closed":
        return ()
    c = facts.counts
    out: list[Problem] = []

    def add(kind: str, **values: int) -> None:
        out.append(Problem(kind, facts.id, class_name, **values))

    if presence_available and thresholds.is_many(c.offline, c.in_progress):
        add("offline", count=c.offline, of=c.in_progress, minutes=thresholds.offline_after_seconds // 60)
    if facts.status == "open" and thresholds.is_many(c.stalled, c.in_progress):
        add("stalled", count=c.stalled, of=c.in_progress, minutes=thresholds.stalled_after_seconds // 60)
    waiting = c.not_started
    if (facts.status == "open" and facts.first_start is not None
            and now - facts.first_start >= timedelta(seconds=thresholds.late_after_seconds)
            and thresholds.is_many(waiting, c.students)):
        add("late", count=waiting, of=c.students, minutes=thresholds.late_after_seconds // 60)
    if (facts.status == "open" and c.in_progress == 0 and facts.last_deadline is not None
            and now - facts.last_deadline >= timedelta(seconds=thresholds.overdue_after_seconds)):
        add("overdue", minutes=_minutes(now - facts.last_deadline))
    if (facts.status == "paused" and facts.paused_at is not None
            and now - facts.paused_at >= timedelta(seconds=thresholds.paused_after_seconds)):
        add("paused", minutes=_minutes(now - facts.paused_at))
    return tuple(out)


def build_overview(window_code: str, window_name: str, classes: Sequence[ClassFacts], sessions: Sequence[SessionFacts],
                   *, now: datetime, thresholds: Thresholds | None = None,
                   presence_available: bool = True) -> CityOverview:
    """Districts → schools → sessions, the classes not tested yet and every session's problems.

    A class is tested once a student of one of its sessions in the window has started.
    Otherwise it is listed as not tested yet, with the session opened for it if there is
    one. Classes without students have nothing to test and are not listed.
    """
    thresholds = thresholds or Thresholds()
    by_class: dict[int, list[SessionFacts]] = {}
    for s in sessions:
        by_class.setdefault(s.class_id, []).append(s)
    schools: dict[int, list[ClassFacts]] = {}
    for klass in classes:
        schools.setdefault(klass.school_id, []).append(klass)
    districts: dict[int, list[SchoolLine]] = {}
    district_of: dict[int, ClassFacts] = {}
    for school_classes in schools.values():
        school_classes.sort(key=lambda k: (k.grade, k.id))  # roster order: "五年三班" < "五年二班" by code point
        lines: list[SessionLine] = []
        untested: list[UntestedClass] = []
        for klass in school_classes:
            mine = sorted(by_class.get(klass.id, []), key=lambda s: s.id)
            lines += [SessionLine(
                id=s.id, class_id=klass.id, class_name=klass.name, grade=klass.grade, status=s.status,
                counts=s.counts, first_start=s.first_start, last_activity=s.last_activity, ends_at=s.last_deadline,
                problems=session_problems(s, klass.name, thresholds, now, presence_available=presence_available),
            ) for s in mine]
            if klass.students and not any(s.started for s in mine):
                waiting = [s.id for s in mine if s.status != "closed"]
                untested.append(UntestedClass(klass.id, klass.name, klass.grade, klass.students,
                                              waiting[-1] if waiting else None))
        first = school_classes[0]
        district_of[first.district_id] = first
        districts.setdefault(first.district_id, []).append(SchoolLine(
            id=first.school_id, source_id=first.school_source_id, name_zh=first.school_name_zh,
            name_en=first.school_name_en, classes=sum(k.grade in CENSUS_GRADES and k.students > 0 for k in school_classes),
            sessions=tuple(lines), untested=tuple(untested)))
    out = []
    for district_id, school_lines in districts.items():
        d = district_of[district_id]
        out.append(DistrictLine(district_id, d.district_source_id, d.district_name_zh, d.district_name_en,
                                tuple(sorted(school_lines, key=lambda s: s.source_id))))
    out.sort(key=lambda d: d.source_id)
    return CityOverview(window_code, window_name, now, thresholds, presence_available, tuple(out))


# --- the queries ---------------------------------------------------------------------------------

def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _load_classes(session: Session, window_id: int) -> list[ClassFacts]:
    """The census classes with their size, and any other class with a session in the window (one query)."""
    sizes = select(Student.class_id, func.count().label("n")).group_by(Student.class_id).subquery()
    in_window = select(TestSession.class_id).where(TestSession.window_id == window_id)
    rows = session.execute(
        select(SchoolClass.id, SchoolClass.name, SchoolClass.grade, func.coalesce(sizes.c.n, 0),
               School.id, School.source_id, School.name_zh, School.name_en,
               District.id, District.source_id, District.name_zh, District.name_en)
        .join(School, SchoolClass.school_id == School.id)
        .join(District, School.district_id == District.id)
        .outerjoin(sizes, sizes.c.class_id == SchoolClass.id)
        .where(or_(SchoolClass.grade.in_(CENSUS_GRADES), SchoolClass.id.in_(in_window))))
    return [ClassFacts(*row) for row in rows]


class _id_list(FunctionElement[str]):
    """The comma-separated values of an expression over a group's rows, NULLs skipped (an aggregate)."""

    type = String()
    inherit_cache = True
    name = "id_list"


@compiles(_id_list)
def _id_list_default(element: _id_list, compiler: Any, **kw: Any) -> str:  # SQLite
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(_id_list, "postgresql")
def _id_list_postgresql(element: _id_list, compiler: Any, **kw: Any) -> str:
    return f"string_agg(CAST({compiler.process(element.clauses, **kw)} AS TEXT), ',')"


def _load_sessions(session: Session, window_id: int, now: datetime, thresholds: Thresholds,
                   presence: Presence | None) -> tuple[list[SessionFacts], bool]:
    """Every session of the window with its students counted by state (one GROUP BY), plus Redis presence.

    An attempt still "in progress" past its deadline (nobody has looked at it since, so it
    was not expired) counts as timed out, unless its session is paused: a pause stops the
    clock. Stalled: running, with no answer saved since `stalled_after_seconds` (the
    attempt's last contact: its start, then every answer stored in time). The same query
    lists the ids of each running session's students still to start and writing, which
    Redis counts against its presence (`Presence.tally`): no per-student row reaches Python.
    """
    running = and_(Attempt.status == "in_progress",
                   or_(TestSession.status == "paused", Attempt.deadline_at.is_(None), Attempt.deadline_at > now))
    timed_out = or_(and_(Attempt.status == "submitted", Attempt.submit_reason == "deadline"),
                    and_(Attempt.status == "in_progress", not_(running)))
    submitted = and_(Attempt.status == "submitted", func.coalesce(Attempt.submit_reason, "") != "deadline")
    quiet_since = now - timedelta(seconds=thresholds.stalled_after_seconds)
    stalled = and_(running, TestSession.status == "open",
                   func.coalesce(Attempt.last_contact_at, Attempt.started_at) < quiet_since)
    rows = session.execute(
        select(TestSession.id, TestSession.class_id, TestSession.status, TestSession.created_at, TestSession.paused_at,
               func.count(Attempt.id), _count(Attempt.status == "not_started"), _count(running),
               _count(submitted), _count(timed_out), _count(Attempt.locked.is_(True)), _count(stalled),
               func.min(Attempt.started_at), func.max(Attempt.started_at), func.max(Attempt.last_contact_at),
               func.max(Attempt.submitted_at), func.max(Attempt.deadline_at),
               _id_list(case((Attempt.status == "not_started", Attempt.id))), _id_list(case((running, Attempt.id))))
        .outerjoin(Attempt, Attempt.session_id == TestSession.id)
        .where(TestSession.window_id == window_id)
        .group_by(TestSession.id, TestSession.class_id, TestSession.status, TestSession.created_at,
                  TestSession.paused_at)).all()
    groups = {r[0]: (r[17] or "", r[18] or "") for r in rows if r[2] != "closed"}
    heard_since = now - timedelta(seconds=thresholds.offline_after_seconds)
    seen = presence.tally(groups, heard_since) if presence is not None else None
    out = []
    for (sid, class_id, status, created_at, paused_at, students, not_started, in_progress, n_submitted, n_timed_out,
         locked, n_stalled, first_start, last_start, last_contact, last_submit, last_deadline, *_ids) in rows:
        hot = seen.get(sid) if seen else None
        n_joined = hot.joined if hot else 0
        counts = Counts(students=int(students), not_joined=int(not_started or 0) - n_joined, joined=n_joined,
                        in_progress=int(in_progress or 0), submitted=int(n_submitted or 0),
                        timed_out=int(n_timed_out or 0), locked=int(locked or 0), offline=hot.offline if hot else 0,
                        stalled=int(n_stalled or 0))
        out.append(SessionFacts(
            id=sid, class_id=class_id, status=status, created_at=created_at, paused_at=paused_at, counts=counts,
            first_start=first_start,
            last_activity=_latest((last_start, last_contact, last_submit, hot.last_active if hot else None)),
            last_deadline=last_deadline))
    return out, seen is not None


def city_overview(session: Session, window: TestWindow, *, presence: Presence | None,
                  thresholds: Thresholds | None = None, now: datetime | None = None) -> CityOverview:
    """The overview of `window` now: a few queries and one Redis round trip, whatever the size of the city."""
    now = now or utcnow()
    thresholds = thresholds or Thresholds()
    classes = _load_classes(session, window.id)
    sessions, presence_available = _load_sessions(session, window.id, now, thresholds, presence)
    return build_overview(window.code, window.name, classes, sessions, now=now, thresholds=thresholds,
                          presence_available=presence_available)


# --- JSON for the shared cache ---------------------------------------------------------------------

def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _decode(tp: Any, value: Any) -> Any:
    """`value` (from `_encode`) as type `tp`: dataclasses, tuple[X, ...], X | None, datetime, plain values."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], value)
    if origin is tuple:
        return tuple(_decode(typing.get_args(tp)[0], v) for v in value)
    if tp is datetime:
        return datetime.fromisoformat(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{name: _decode(hints[name], v) for name, v in value.items() if name in hints})
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(tp: type) -> dict[str, Any]:
    if tp not in _HINTS:
        fields = {f.name for f in dataclasses.fields(tp)}
        _HINTS[tp] = {k: v for k, v in typing.get_type_hints(tp).items() if k in fields}
    return _HINTS[tp]

