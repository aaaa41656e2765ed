"""Test sessions: one class sitting one form in a window, one attempt and ticket per student."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from . import audit
from .errors import Conflict, InvalidInput, NotFound
from .forms import freeze_form, get_form
from .models import Attempt, School, SchoolClass, Student, TestSession
from .states import SessionStatus
from .tickets import format_ticket, generate_ticket
from .windows import current_window, get_window

__all__ = [
    "TicketRow",
    "check_class_free",
    "create_session",
    "get_session",
    "list_classes",
    "list_sessions",
    "session_summary",
    "ticket_sheet",
]

RUNNING = ("open", "paused")  # a class has at most one session in these states


def list_classes(session: Session, *, school_source_id: str | None = None, school_id: int | None = None,
                 grade: int | None = None) -> list[dict[str, Any]]:
    """Classes with their school, number of students and running session, if any (for `ctcensus classes list`)."""
    counts = (select(Student.class_id, func.count().label("n")).group_by(Student.class_id).subquery())
    running = (select(TestSession.class_id, func.min(TestSession.id).label("session_id"))
               .where(TestSession.status.in_(RUNNING)).group_by(TestSession.class_id).subquery())
    query = (select(SchoolClass, School, func.coalesce(counts.c.n, 0), running.c.session_id)
             .join(School, SchoolClass.school_id == School.id)
             .outerjoin(counts, counts.c.class_id == SchoolClass.id)
             .outerjoin(running, running.c.class_id == SchoolClass.id)
             .order_by(School.source_id, SchoolClass.grade, SchoolClass.name))
    if school_source_id is not None:
        query = query.where(School.source_id == school_source_id)
    if school_id is not None:
        query = query.where(School.id == school_id)
    if grade is not None:
        query = query.where(SchoolClass.grade == grade)
    return [
        {"id": c.id, "source_id": c.source_id, "name": c.name, "grade": c.grade, "school_id": s.id,
         "school": s.source_id, "school_name": s.name_zh, "students": int(n), "open_session": open_id}
        for c, s, n, open_id in session.execute(query)
    ]


def create_session(
    session: Session,
    *,
    class_id: int,
    form_id: int,
    minutes: int | None = None,
    window_code: str | None = None,
    actor: str = "system",
) -> TestSession:
    """Open a session for a class: freeze the form and give every student an attempt with a ticket.

    Refuses (Conflict, code class_busy) when the class already has an open or paused session:
    a second one would give every student a second ticket.
    """
    # Locking the class row serialises two openers (a double click, two admins) on PostgreSQL.
    klass = session.get(SchoolClass, class_id, with_for_update=True)
    if klass is None:
        raise NotFound(f"no class with id {class_id}; list them with `ctcensus classes list`")
    form = get_form(session, form_id)
    if form.grade != klass.grade:
        raise InvalidInput(f"form {form.code} v{form.version} is for grade {form.grade} but class "
                           f"{klass.name} is grade {klass.grade}")
    if not form.items:
        raise InvalidInput(f"form {form.code} v{form.version} has no items")
    minutes = form.time_limit_minutes if minutes is None else minutes
    if not 1 <= minutes <= 240:
        raise InvalidInput(f"time limit must be 1-240 minutes; got {minutes}")
    window = get_window(session, window_code) if window_code else current_window(session)
    check_class_free(session, klass)
    students = list(session.scalars(select(Student).where(Student.class_id == klass.id)
                                    .order_by(Student.seat_number, Student.family_name, Student.given_name)))
    if not students:
        raise InvalidInput(f"class {klass.name} (id {klass.id}) has no students")
    test_session = TestSession(window_id=window.id, class_id=klass.id, form_id=form.id,
                               time_limit_minutes=minutes, status=SessionStatus.OPEN, created_by=actor)
    session.add(test_session)
    freeze_form(form)
    session.flush()
    tickets = unique_tickets(session, len(students))
    for student, ticket in zip(students, tickets, strict=True):
        session.add(Attempt(session_id=test_session.id, student_id=student.id, ticket=ticket,
                            status="not_started", shuffle_seed=secrets.randbelow(2**31 - 1),
                            token_version=0, extra_seconds=0, locked=False))
    # A concurrent session drawing the same ticket (p ≈ 1e-9) fails the unique constraint: nothing is stored.
    session.flush()
    audit.record(session, actor, "session.create", f"session {test_session.id}", class_id=klass.id,
                 form_id=form.id, window=window.code, minutes=minutes, students=len(students))
    return test_session


def check_class_free(session: Session, klass: SchoolClass) -> None:
    """Conflict (class_busy) when the class already has an open or paused session."""
    running = session.scalar(select(TestSession.id).where(TestSession.class_id == klass.id,
                                                          TestSession.status.in_(RUNNING))
                             .order_by(TestSession.id).limit(1))
    if running is not None:
        raise Conflict(f"class {klass.name} (id {klass.id}) already has an open session ({running}); close it first",
                       code="class_busy")


def unique_tickets(session: Session, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        batch = {generate_ticket() for _ in range(n - len(out))} - out
        taken = set(session.scalars(select(Attempt.ticket).where(Attempt.ticket.in_(batch))))
        out |= batch - taken
    return sorted(out, key=lambda _: secrets.randbits(32))


def get_session(session: Session, session_id: int) -> TestSession:
    """A test session by id with its class, school and form (one statement), or NotFound."""
    test_session = session.get(TestSession, session_id, options=[
        joinedload(TestSession.school_class).joinedload(SchoolClass.school), joinedload(TestSession.form)])
    if test_session is None:
        raise NotFound(f"no test session with id {session_id}")
    return test_session


def list_sessions(session: Session, *, school_id: int | None = None) -> list[TestSession]:
    """Sessions, newest first, optionally only one school's."""
    query = select(TestSession).order_by(TestSession.created_at.desc(), TestSession.id.desc())
    if school_id is not None:
        query = query.join(SchoolClass, TestSession.class_id == SchoolClass.id).where(SchoolClass.school_id == school_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class TicketRow:
    """One line of a proctor's printed ticket sheet."""

    attempt_id: int
    student_id: int
    seat: int | None
    name: str
    class_name: str
    school_name: str
    ticket: str
    ticket_display: str


def ticket_sheet(session: Session, session_id: int) -> list[TicketRow]:
    """Every student's ticket for a session, by seat then name."""
    test_session = get_session(session, session_id)
    attempts = session.scalars(select(Attempt).where(Attempt.session_id == test_session.id)
                               .options(selectinload(Attempt.student))).all()
    klass = test_session.school_class
    rows = [
        TicketRow(a.id, a.student_id, a.student.seat_number, a.student.display_name, klass.name,
                  klass.school.name_zh, a.ticket, format_ticket(a.ticket))
        for a in attempts
    ]
    return sorted(rows, key=lambda r: (r.seat is None, r.seat or 0, r.name))


def session_summary(session: Session, test_session: TestSession, *, with_tickets: bool = True) -> dict[str, Any]:
    """A JSON-able description of a session (for `ctcensus session create --json`)."""
    data: dict[str, Any] = {
        "id": test_session.id,
        "class_id": test_session.class_id,
        "class": test_session.school_class.name,
        "school": test_session.school_class.school.source_id,
        "form_id": test_session.form_id,
        "form": f"{test_session.form.code} v{test_session.form.version}",
        "window": test_session.window.code,
        "minutes": test_session.time_limit_minutes,
        "status": test_session.status,
    }
    if with_tickets:
        data["tickets"] = [
            {"student_id": r.student_id, "seat": r.seat, "name": r.name, "ticket": r.ticket}
            for r in ticket_sheet(session, test_session.id)
        ]
    return data
