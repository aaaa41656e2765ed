"""The demo: starter items, the synthetic Keelung city, staff logins, a test window,
grade-5 and grade-8 forms and one open session, each created only if missing."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from item_bank import Item

from .accounts import create_user
from .db import utcnow
from .forms import build_forms, default_blueprint, list_forms
from .item_store import import_items
from .models import Form, School, SchoolClass, TestSession, TestWindow, User
from .roster import DemoCity, generate_demo_city
from .sessions import TicketRow, create_session, ticket_sheet
from .windows import create_window

__all__ = ["DEMO_ACCOUNTS", "DEMO_WINDOW", "DemoSetup", "seed_demo"]

# username: (role, password, school source id); printed by `ctcensus demo`, never used in production.
DEMO_ACCOUNTS: dict[str, tuple[str, str, str | None]] = {
    "admin": ("admin", "demo-admin-2026", None),
    "bureau": ("bureau", "demo-bureau-2026", None),
    "researcher": ("researcher", "demo-research-2026", None),
    "school": ("school_admin", "demo-school-2026", "es-001"),
    "proctor": ("proctor", "demo-proctor-2026", "es-001"),
    # results: a larger school's admin and one of its teachers (es-001's class is the live demo session)
    "principal": ("school_admin", "demo-principal-2026", "es-017"),
    "teacher": ("teacher", "demo-teacher-2026", "es-017"),
}
DEMO_WINDOW = "113"


@dataclass(frozen=True)
class DemoSetup:
    """What the demo holds after `seed_demo` (whether created now or before)."""

    items: int
    items_added: int
    city: DemoCity | None  # None when the roster already existed
    forms: tuple[Form, ...]
    session: TestSession | None
    tickets: tuple[TicketRow, ...]


def seed_demo(session: Session, bank: Sequence[Item], *, actor: str = "demo") -> DemoSetup:
    """Create whatever part of the demo is missing, in the caller's transaction."""
    report = import_items(session, bank, actor=actor, source="starter bank")
    city = None
    if not session.scalar(select(func.count()).select_from(School)):
        city = generate_demo_city(session, actor=actor)
    for username, (role, password, school) in DEMO_ACCOUNTS.items():
        if session.scalar(select(User).where(User.username == username)) is None:
            classes: list[str] = []
            if role == "teacher":
                first = session.scalar(select(SchoolClass.source_id).join(School).where(School.source_id == school)
                                       .order_by(SchoolClass.id).limit(1))
                classes = [first] if first else []
                if not classes:
                    continue  # a roster without the demo school: no teacher login
            elif school and session.scalar(select(School.id).where(School.source_id == school)) is None:
                continue
            create_user(session, username, password, role, school_source_id=school, class_source_ids=classes,
                        actor=actor)
    if session.scalar(select(TestWindow).where(TestWindow.code == DEMO_WINDOW)) is None:
        now = utcnow()
        create_window(session, DEMO_WINDOW, "113 學年度運算思維普測（示範）", now - timedelta(days=1),
                      now + timedelta(days=90), actor=actor)
    forms = {}
    for grade in (5, 8):
        existing = list_forms(session, grade)
        forms[grade] = existing[-1] if existing else build_forms(
            session, default_blueprint(session, grade, seed=113), code=f"G{grade}-113", actor=actor)[0]
    test_session, tickets = _demo_session(session, forms[5], actor)
    return DemoSetup(len(bank), report.added, city, (forms[5], forms[8]), test_session, tickets)


def _demo_session(session: Session, form: Form, actor: str) -> tuple[TestSession | None, tuple[TicketRow, ...]]:
    """The open session of the demo proctor's first grade-5 class (opened if there is none)."""
    school_source = DEMO_ACCOUNTS["proctor"][2]
    klass = session.scalar(select(SchoolClass).join(School).where(School.source_id == school_source,
                                                                  SchoolClass.grade == 5).order_by(SchoolClass.id))
    if klass is None:
        return None, ()
    test_session = session.scalar(select(TestSession).where(TestSession.class_id == klass.id,
                                                            TestSession.status != "closed")
                                  .order_by(TestSession.id.desc()))
    if test_session is None:
        test_session = create_session(session, class_id=klass.id, form_id=form.id, window_code=DEMO_WINDOW,
                                      actor=actor)
    return test_session, tuple(ticket_sheet(session, test_session.id))
