"""What a proctor does during a session, each action audited, and the live status of the class.

Pause stops the clock of every in-progress attempt (the deadlines move by the
paused time on resume); extend gives one student extra time (re-opening an
attempt the deadline had ended); lock revokes a student's tokens and blocks
sign-in until unlocked; close ends the session and submits what is open.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Select, Text, and_, bindparam, case, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from . import audit
from .attempts import effective_deadline, expire_if_due, iso, remaining_seconds, running_deadline
from .db import utcnow
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .forms import get_form, operational_forms
from .models import (
    Answer,
    Attempt,
    FormItem,
    ItemRecord,
    SchoolClass,
    Student,
    TestSession,
    User,
)
from .presence import Presence
from .sessions import create_session, get_session
from .states import AttemptStatus, SessionStatus, SubmitReason
from .windows import get_window, selectable_windows

__all__ = [
    "IDLE_AFTER",
    "SessionOverview",
    "StatusRow",
    "check_access",
    "check_class_access",
    "close_session",
    "console_sessions",
    "extend_time",
    "get_attempt",
    "live_status",
    "lock_attempt",
    "open_class_session",
    "pause_session",
    "resume_session",
    "school_scope",
    "unlock_attempt",
]

IDLE_AFTER = timedelta(minutes=2)
_SCHOOL_ROLES = ("proctor", "school_admin")


def check_access(user: User | None, test_session: TestSession) -> None:
    """Admins see every session; proctors and school admins only their own school's."""
    if user is None or not user.active:
        raise Forbidden("sign in as staff first", code="forbidden")
    if user.role == "admin":
        return
    if user.role in _SCHOOL_ROLES and user.school_id == test_session.school_class.school_id:
        return
    raise Forbidden("this session belongs to another school, or your role cannot proctor", code="forbidden")


def school_scope(user: User | None) -> int | None:
    """The school whose classes and sessions `user` may proctor; None means every school (admin)."""
    if user is None or not user.active:
        raise Forbidden("sign in as staff first", code="forbidden")
    if user.role == "admin":
        return None
    if user.role in _SCHOOL_ROLES and user.school_id is not None:
        return user.school_id
    raise Forbidden("your account is not linked to a school, or your role cannot proctor; ask an admin",
                    code="no_school")


def check_class_access(user: User | None, klass: SchoolClass) -> None:
    """Admins may open a session for any class; proctors and school admins only for their own school's."""
    scope = school_scope(user)
    if scope is not None and scope != klass.school_id:
        raise Forbidden("this class belongs to another school", code="forbidden")


MAX_ID = 2**31 - 1  # the largest database id (PostgreSQL INTEGER)


def get_attempt(session: Session, attempt_id: int) -> Attempt:
    """An attempt by id (locked for update), or NotFound."""
    if isinstance(attempt_id, bool) or not isinstance(attempt_id, int) or not 0 <= attempt_id <= MAX_ID:
        raise NotFound(f"no attempt with id {attempt_id!r}")
    attempt = session.get(Attempt, attempt_id, with_for_update=True, populate_existing=True)
    if attempt is None:
        raise NotFound(f"no attempt with id {attempt_id}")
    return attempt


def _locked_session(session: Session, session_id: int) -> TestSession:
    test_session = session.get(TestSession, session_id, with_for_update=True, populate_existing=True)
    if test_session is None:
        raise NotFound(f"no test session with id {session_id}")
    return test_session


def pause_session(session: Session, session_id: int, *, actor: str, ip: str = "", now: datetime | None = None) -> TestSession:
    """Stop the clock for the whole class."""
    now = now or utcnow()
    test_session = _locked_session(session, session_id)
    if test_session.status != "open":
        raise Conflict(f"only an open session can be paused; this one is {test_session.status}", code="not_open")
    for attempt in _open_attempts(session, test_session):
        expire_if_due(attempt, now)  # who ran out before the pause stays out
    test_session.status = SessionStatus.PAUSED
    test_session.paused_at = now
    audit.record(session, actor, "session.pause", f"session {test_session.id}", ip=ip, at=iso(now))
    return test_session


def resume_session(session: Session, session_id: int, *, actor: str, ip: str = "", now: datetime | None = None) -> TestSession:
    """Restart the clock; every in-progress deadline moves by the time it was stopped."""
    now = now or utcnow()
    test_session = _locked_session(session, session_id)
    if test_session.status != "paused" or test_session.paused_at is None:
        raise Conflict(f"only a paused session can be resumed; this one is {test_session.status}", code="not_paused")
    moved = 0
    for attempt in _open_attempts(session, test_session):
        if attempt.deadline_at is None:
            continue
        frozen_since = max(test_session.paused_at, attempt.started_at or test_session.paused_at)
        if now > frozen_since:
            attempt.deadline_at = attempt.deadline_at + (now - frozen_since)
            moved += 1
    paused_seconds = int((now - test_session.paused_at).total_seconds())
    test_session.status = SessionStatus.OPEN
    test_session.paused_at = None
    audit.record(session, actor, "session.resume", f"session {test_session.id}", ip=ip,
                 paused_seconds=paused_seconds, attempts_moved=moved)
    return test_session


def close_session(session: Session, session_id: int, *, actor: str, ip: str = "", now: datetime | None = None) -> TestSession:
    """End the session: open attempts are submitted (reason "session_closed"), no new sign-ins."""
    now = now or utcnow()
    test_session = _locked_session(session, session_id)
    if test_session.status == "closed":
        return test_session
    if test_session.status == "paused":
        resume_session(session, session_id, actor=actor, ip=ip, now=now)
    closed = 0
    for attempt in _open_attempts(session, test_session):
        if not expire_if_due(attempt, now):
            attempt.status = AttemptStatus.SUBMITTED
            attempt.submit_reason = SubmitReason.SESSION_CLOSED
            attempt.submitted_at = now
            closed += 1
    test_session.status = SessionStatus.CLOSED
    test_session.closed_at = now
    audit.record(session, actor, "session.close", f"session {test_session.id}", ip=ip, attempts_submitted=closed)
    return test_session


def _open_attempts(session: Session, test_session: TestSession) -> list[Attempt]:
    return list(session.scalars(
        select(Attempt).where(Attempt.session_id == test_session.id, Attempt.status == "in_progress")
        .with_for_update()
    ))


def extend_time(session: Session, attempt_id: int, seconds: int, *, actor: str, ip: str = "",
                now: datetime | None = None) -> Attempt:
    """Give one student extra time; an attempt the deadline had ended is re-opened if time remains."""
    now = now or utcnow()
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 4 * 3600:
        # a client's int can have thousands of digits, which Python refuses to print (ValueError: a 500)
        shown = repr(seconds) if isinstance(seconds, int) and abs(seconds) < 10**12 else "a number out of range"
        raise InvalidInput(f"extra time must be 1 to {4 * 3600} seconds; got {shown}")
    attempt = get_attempt(session, attempt_id)
    test_session = attempt.session
    if test_session.status == "closed":
        raise Conflict("the session is closed", code="session_closed")
    if attempt.status == "submitted" and attempt.submit_reason != "deadline":
        raise Conflict("the student has submitted; extra time would not change anything", code="submitted")
    reopened = False
    if attempt.deadline_at is not None:
        expire_if_due(attempt, now)  # settle a clock that ran out but no request has looked at yet
        new_deadline = attempt.deadline_at + timedelta(seconds=seconds)
        if attempt.status == "submitted":  # ended by its deadline: re-open only if time is left
            # Pause-aware: during a pause the clock of a re-opened attempt stands still.
            left = running_deadline(new_deadline, attempt.started_at, test_session, now)
            if left <= now:
                needed = int((now - left).total_seconds()) + seconds + 1
                raise Conflict(
                    f"this student's time ran out at {iso(attempt.deadline_at)}; {seconds} s more would still "
                    f"end before now, so nothing was changed. Give at least {needed} s to re-open the test",
                    code="no_time_left")
            attempt.status = AttemptStatus.IN_PROGRESS
            attempt.submit_reason = None
            attempt.submitted_at = None
            reopened = True
        attempt.deadline_at = new_deadline
    attempt.extra_seconds += seconds
    audit.record(session, actor, "attempt.extend", f"attempt {attempt.id}", ip=ip, seconds=seconds,
                 extra_seconds=attempt.extra_seconds, reopened=reopened, deadline_at=iso(attempt.deadline_at))
    return attempt


def lock_attempt(session: Session, attempt_id: int, *, actor: str, ip: str = "") -> Attempt:
    """Block a student: every token issued so far stops working, sign-in is refused."""
    attempt = get_attempt(session, attempt_id)
    attempt.locked = True
    attempt.token_version += 1
    audit.record(session, actor, "attempt.lock", f"attempt {attempt.id}", ip=ip)
    return attempt


def unlock_attempt(session: Session, attempt_id: int, *, actor: str, ip: str = "") -> Attempt:
    """Let a locked student sign in again with the same ticket (and resume every saved answer)."""
    attempt = get_attempt(session, attempt_id)
    attempt.locked = False
    audit.record(session, actor, "attempt.unlock", f"attempt {attempt.id}", ip=ip)
    return attempt


@dataclass(frozen=True)
class StatusRow:
    """One student in the proctor's live view."""

    attempt_id: int
    student_id: int
    seat: int | None
    name: str
    status: str
    joined: bool  # signed in (Redis presence) or started
    started: bool  # pressed start: the clock runs ("in progress" unless done)
    done: bool
    locked: bool
    current_item: str | None
    current_position: int | None  # the current item's place on the form (1-based)
    answered: int
    n_items: int
    last_saved: str | None
    last_seen: str | None  # last request of any kind (heartbeat too): the client is connected
    last_active: str | None  # last start, saved answer or change of item: what "idle" measures
    idle: bool
    idle_seconds: int | None
    remaining_seconds: int | None
    deadline_at: str | None
    extra_seconds: int
    submit_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        # Flat values only, so a shallow copy: dataclasses.asdict deep-copies every value, which took
        # a third of a status poll's CPU time (25 rows of 23 fields, every 5 s per class).
        return dict(self.__dict__)


def live_status(session: Session, session_id: int, presence: Presence | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """The session and one row per student; hot state from Redis, SQL when Redis knows nothing.

    "joined" (signed in, possibly not started) comes from the presence every
    login and heartbeat records in Redis; without it, SQL knows only who started.
    """
    now = now or utcnow()
    test_session = get_session(session, session_id)  # with class, school and form (often loaded already)
    # Columns, not ORM objects, from statements built once: a poll every 5 s per class, all day.
    attempts = session.execute(_STATUS_ATTEMPTS, {"session_id": test_session.id}).all()
    positions = dict(session.execute(_FORM_POSITIONS, {"form_id": test_session.form_id}).all())
    n_items = len(positions)
    answers = _answer_summaries(session, test_session.id)
    seen = presence.read(test_session.id) if presence is not None else {}
    rows = []
    for a in attempts:
        last = answers.get(a.id)  # (last saved item, its saved_at, answered)
        hot = seen.get(a.id)
        last_seen = hot.at if hot else (last[1] if last else a.started_at)
        # Idle = no activity (start, saved answer, change of item) for IDLE_AFTER; heartbeats only show
        # the client is connected, so a client holding back its saves cannot look busy.
        moments = [t for t in (hot.active_at if hot else None, last[1] if last else None, a.started_at) if t]
        last_active = max(moments) if moments else None
        current = (hot.current_item if hot and hot.current_item else None) or (last[0] if last else None)
        idle_seconds = (int((now - last_active).total_seconds())
                        if last_active and a.status == "in_progress" else None)
        rows.append(StatusRow(
            attempt_id=a.id, student_id=a.student_id, seat=a.seat_number, name=f"{a.family_name}{a.given_name}",
            status=a.status, joined=hot is not None or a.started_at is not None, started=a.started_at is not None,
            done=a.status == "submitted", locked=a.locked,
            current_item=current, current_position=positions.get(current) if current else None,
            answered=last[2] if last else 0, n_items=n_items,
            last_saved=iso(last[1]) if last else None, last_seen=iso(last_seen), last_active=iso(last_active),
            idle=idle_seconds is not None and idle_seconds >= IDLE_AFTER.total_seconds(),
            idle_seconds=idle_seconds, remaining_seconds=remaining_seconds(a, test_session, now),
            deadline_at=iso(effective_deadline(a, test_session, now)), extra_seconds=a.extra_seconds,
            submit_reason=a.submit_reason,
        ))
    rows.sort(key=lambda r: (r.seat is None, r.seat or 0, r.name))
    klass = test_session.school_class
    return {
        "session": {"id": test_session.id, "status": test_session.status, "class": klass.name,
                    "school": klass.school.name_zh, "form": f"{test_session.form.code} v{test_session.form.version}",
                    "minutes": test_session.time_limit_minutes, "paused_at": iso(test_session.paused_at),
                    "closed_at": iso(test_session.closed_at)},
        "server_time": iso(now),
        "counts": {"students": len(rows), "joined": sum(r.joined for r in rows),
                   "in_progress": sum(r.status == "in_progress" for r in rows), "done": sum(r.done for r in rows),
                   "idle": sum(r.idle for r in rows), "locked": sum(r.locked for r in rows)},
        "students": [r.to_dict() for r in rows],
    }


_STATUS_ATTEMPTS = (
    select(Attempt.id, Attempt.student_id, Attempt.status, Attempt.started_at, Attempt.deadline_at,
           Attempt.extra_seconds, Attempt.locked, Attempt.submit_reason, Student.seat_number, Student.family_name,
           Student.given_name)
    .join(Student, Student.id == Attempt.student_id)
    .where(Attempt.session_id == bindparam("session_id")))
_FORM_POSITIONS = (select(ItemRecord.item_id, FormItem.position).join(FormItem, FormItem.item_pk == ItemRecord.pk)
                   .where(FormItem.form_id == bindparam("form_id")))


def _answer_summaries_statement() -> Select[Any]:
    """Per attempt of a session: the item of its last saved answer, when, and how many items are answered.

    One row per attempt from the database (a window over its answers), so a poll every few
    seconds neither moves nor decodes every stored response. Answered means a response that
    is neither null (a cleared answer) nor {}.
    """
    text = cast(Answer.response, Text)
    answered = case((and_(Answer.response.is_not(None), text.not_in(("null", "{}"))), 1), else_=0)
    ranked = (select(Answer.attempt_id, ItemRecord.item_id, Answer.saved_at,
                     func.sum(answered).over(partition_by=Answer.attempt_id).label("answered"),
                     func.row_number().over(partition_by=Answer.attempt_id,
                                            order_by=(Answer.saved_at.desc(), Answer.item_pk)).label("rank"))
              .join(ItemRecord, ItemRecord.pk == Answer.item_pk)
              .join(Attempt, Attempt.id == Answer.attempt_id)
              .where(Attempt.session_id == bindparam("session_id"))).subquery()
    return select(ranked.c.attempt_id, ranked.c.item_id, ranked.c.saved_at, ranked.c.answered).where(ranked.c.rank == 1)


_ANSWER_SUMMARIES = _answer_summaries_statement()


def _answer_summaries(session: Session, session_id: int) -> dict[int, tuple[str, datetime, int]]:
    """{attempt id: (last saved item, its saved_at, items answered)} for a session (see the statement)."""
    rows = session.execute(_ANSWER_SUMMARIES, {"session_id": session_id})
    return {attempt_id: (item_id, saved_at, int(n)) for attempt_id, item_id, saved_at, n in rows}


# --- the console: today's and open sessions, opening a session for a class -----------------------

TAIWAN = timezone(timedelta(hours=8), "Asia/Taipei")  # no daylight saving time


@dataclass(frozen=True)
class SessionOverview:
    """One line of the proctor console's session list."""

    id: int
    class_id: int
    class_name: str
    grade: int
    school_name: str
    form: str
    window: str
    minutes: int
    status: str
    created_at: datetime
    students: int
    joined: int
    in_progress: int
    submitted: int


def console_sessions(session: Session, *, school_id: int | None, presence: Presence | None = None,
                     now: datetime | None = None) -> list[SessionOverview]:
    """Sessions still open or paused, and any opened today (Taiwan time), newest first; one school or all."""
    now = now or utcnow()
    today = now.astimezone(TAIWAN).replace(hour=0, minute=0, second=0, microsecond=0)
    query = (select(TestSession).join(SchoolClass, TestSession.class_id == SchoolClass.id)
             .where(or_(TestSession.status.in_(("open", "paused")), TestSession.created_at >= today))
             .options(selectinload(TestSession.school_class).selectinload(SchoolClass.school),
                      selectinload(TestSession.form), selectinload(TestSession.window))
             .order_by(TestSession.created_at.desc(), TestSession.id.desc()))
    if school_id is not None:
        query = query.where(SchoolClass.school_id == school_id)
    test_sessions = list(session.scalars(query))
    attempts: dict[int, list[tuple[int, str, bool]]] = {}
    if test_sessions:
        rows = session.execute(select(Attempt.session_id, Attempt.id, Attempt.status, Attempt.started_at)
                               .where(Attempt.session_id.in_([t.id for t in test_sessions])))
        for session_id, attempt_id, status, started_at in rows:
            attempts.setdefault(session_id, []).append((attempt_id, status, started_at is not None))
    out = []
    for t in test_sessions:
        mine = attempts.get(t.id, [])
        seen = presence.read(t.id) if presence is not None and t.status != "closed" else {}
        klass = t.school_class
        out.append(SessionOverview(
            id=t.id, class_id=klass.id, class_name=klass.name, grade=klass.grade, school_name=klass.school.name_zh,
            form=f"{t.form.code} v{t.form.version}", window=t.window.code, minutes=t.time_limit_minutes,
            status=t.status, created_at=t.created_at, students=len(mine),
            joined=sum(1 for a_id, _, started in mine if started or a_id in seen),
            in_progress=sum(1 for _, status, _ in mine if status == "in_progress"),
            submitted=sum(1 for _, status, _ in mine if status == "submitted"),
        ))
    return out


def open_class_session(session: Session, *, user: User, class_id: int, form_id: int, minutes: int | None,
                       window_code: str, now: datetime | None = None) -> TestSession:
    """Open a session from the console: the user's own school's class, an operational form of its grade,
    a window open now, and no other open or paused session for the class (a double click opens one)."""
    klass = session.get(SchoolClass, class_id, with_for_update=True)
    if klass is None:
        raise NotFound(f"no class with id {class_id}", code="no_class")
    check_class_access(user, klass)
    if klass.grade not in (5, 8):
        raise InvalidInput(f"only grade 5 and 8 classes sit the census; class {klass.name} is grade {klass.grade}",
                           code="bad_grade")
    try:
        form = get_form(session, form_id)
    except NotFound as exc:
        raise NotFound(exc.message, code="no_form") from None
    if form.grade != klass.grade or form not in operational_forms(session, klass.grade):
        raise InvalidInput(f"form {form.code} v{form.version} is not an operational grade-{klass.grade} form",
                           code="bad_form")
    try:
        window = get_window(session, window_code)
    except NotFound as exc:
        raise NotFound(exc.message, code="no_window") from None
    if window not in selectable_windows(session, now):
        raise InvalidInput(f"test window {window.code} is not open now", code="bad_window")
    if minutes is not None and not 1 <= minutes <= 240:
        raise InvalidInput(f"time limit must be 1-240 minutes; got {minutes}", code="bad_minutes")
    # create_session refuses a class that already has an open or paused session (class_busy)
    return create_session(session, class_id=klass.id, form_id=form.id, minutes=minutes, window_code=window.code,
                          actor=user.username)
