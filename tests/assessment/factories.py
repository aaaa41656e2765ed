"""Small builders for delivery tests: the starter bank, a tiny roster, a window, a form, a session."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from assessment.attempts import LoginResult, login_with_ticket, start_attempt
from assessment.db import utcnow
from assessment.forms import Blueprint, build_forms, default_blueprint
from assessment.item_store import import_items
from assessment.models import (
    Attempt,
    District,
    Form,
    ItemRecord,
    School,
    SchoolClass,
    Student,
    TestSession,
    TestWindow,
)
from assessment.sessions import create_session
from assessment.windows import create_window
from item_bank import Item, content_dir, load_bank


@lru_cache(maxsize=1)
def starter_items() -> tuple[Item, ...]:
    return tuple(load_bank(content_dir()))


def import_bank(db: Session) -> None:
    import_items(db, list(starter_items()), actor="test", source="starter bank")
    db.flush()


def make_class(db: Session, *, grade: int = 5, n_students: int = 3, school: str = "es-t01",
               district: str = "kl-test", name: str | None = None) -> SchoolClass:
    d = db.query(District).filter_by(source_id=district).one_or_none()
    if d is None:
        d = District(source_id=district, name_zh="測試區", name_en="Test")
        db.add(d)
        db.flush()
    s = db.query(School).filter_by(source_id=school).one_or_none()
    if s is None:
        s = School(source_id=school, district_id=d.id, name_zh=f"{school}學校",
                   level="elementary" if grade == 5 else "junior_high")
        db.add(s)
        db.flush()
    n_classes = db.query(SchoolClass).filter_by(school_id=s.id).count()
    klass = SchoolClass(source_id=f"{school}-c{n_classes + 1}", school_id=s.id, grade=grade,
                        name=name or f"{grade}年{n_classes + 1}班")
    db.add(klass)
    db.flush()
    for seat in range(1, n_students + 1):
        db.add(Student(source_id=f"{klass.source_id}-{seat:02d}", class_id=klass.id, family_name="王",
                       given_name=f"同學{seat}", seat_number=seat, gender=""))
    db.flush()
    return klass


def make_window(db: Session, code: str = "113") -> Any:
    now = utcnow()
    return create_window(db, code, f"{code} 學年度普測", now - timedelta(days=1), now + timedelta(days=30))


def make_form(db: Session, grade: int = 5, *, shuffle: bool = False, seed: int = 1, **kw: Any) -> Form:
    bp = default_blueprint(db, grade, seed=seed, shuffle_options=shuffle, **kw)
    return build_forms(db, bp)[0]


def open_session(db: Session, *, grade: int = 5, n_students: int = 3, minutes: int = 35, shuffle: bool = False,
                 school: str = "es-t01") -> tuple[TestSession, list[Attempt]]:
    """Bank + window + class + form + session, committed; returns the session and its attempts by seat."""
    if db.query(ItemRecord).count() == 0:
        import_bank(db)
    if db.query(TestWindow).count() == 0:
        make_window(db)
    klass = make_class(db, grade=grade, n_students=n_students, school=school)
    form = make_form(db, grade, shuffle=shuffle)
    test_session = create_session(db, class_id=klass.id, form_id=form.id, minutes=minutes)
    db.commit()
    attempts = sorted(test_session.attempts, key=lambda a: a.student.seat_number or 0)
    for a in attempts:
        a.session.school_class.school  # noqa: B018 - load now, then end the read transaction
    db.commit()  # on SQLite every transaction holds the write lock (BEGIN IMMEDIATE): never leave one open
    return test_session, attempts


def login_and_start(db: Session, ticket: str, *, secret_key: str, now: datetime | None = None) -> LoginResult:
    """What the player does: sign in with the ticket, then press start (the clock starts at `now`)."""
    result = login_with_ticket(db, ticket, secret_key=secret_key, now=now)
    start_attempt(result.attempt, now=now)
    db.flush()
    return result


__all__ = ["Blueprint", "import_bank", "login_and_start", "make_class", "make_form", "make_window", "open_session",
           "starter_items"]


TYPES = ("single_choice", "multiple_response", "ordering", "matching", "short_answer", "grid_path")


def open_all_types_session(db: Session, *, n_students: int = 2, minutes: int = 35, shuffle: bool = False,
                           school: str = "es-t01") -> tuple[TestSession, list[Attempt], dict[str, Item]]:
    """A grade-5 session whose form holds one operational item of every type."""
    from assessment.forms import update_form

    if db.query(ItemRecord).count() == 0:
        import_bank(db)
    if db.query(TestWindow).count() == 0:
        make_window(db)
    by_type: dict[str, Item] = {}
    for item in sorted(starter_items(), key=lambda i: i.id):
        if item.status == "operational" and 5 in item.grades:
            by_type.setdefault(item.type, item)
    klass = make_class(db, grade=5, n_students=n_students, school=school)
    form = make_form(db, 5, shuffle=shuffle)
    update_form(db, form.id, item_ids=[by_type[t].id for t in TYPES])
    test_session = create_session(db, class_id=klass.id, form_id=form.id, minutes=minutes)
    db.commit()
    attempts = sorted(test_session.attempts, key=lambda a: a.student.seat_number or 0)
    for a in attempts:
        a.session.school_class.school  # noqa: B018 - load now, then end the read transaction
    db.commit()  # on SQLite every transaction holds the write lock (BEGIN IMMEDIATE): never leave one open
    return test_session, attempts, by_type


def correct_response(item: Item) -> dict[str, Any]:
    """The keyed (full-credit) response of an item."""
    if item.type == "single_choice":
        return {"choice": item.key}
    if item.type == "multiple_response":
        return {"choices": list(item.key)}
    if item.type == "ordering":
        return {"order": list(item.key)}
    if item.type == "matching":
        return {"pairs": [list(p) for p in item.key]}
    if item.type == "short_answer":
        assert item.answer is not None
        return {"text": str(item.answer.value) if item.answer.kind == "numeric" else item.answer.accepted[0]}
    assert item.grid is not None
    return {"moves": item.grid.shortest_path()}


def malformed_response(item: Item) -> dict[str, Any]:
    """A response of the wrong shape for the item's type (HTTP 422)."""
    return {
        "single_choice": {"choice": "<b>ZZ</b>"},
        "multiple_response": {"choices": "A"},
        "ordering": {"order": list(item.option_ids[:-1])},
        "matching": {"pairs": [["NOPE", "R1"]]},
        "short_answer": {"text": 5},
        "grid_path": {"moves": "RRXQ"},
    }[item.type]


def save_concurrently(url: str, save: Any, jobs: list[tuple[Item, int]], threads: int = 8) -> list[BaseException]:
    """Run `save(engine, item, seq)` for every job from `threads` threads over two engines (two gunicorn workers).

    Returns the errors raised (none expected).
    """
    import threading

    from assessment.db import make_engine

    engines = [make_engine(url) for _ in range(2)]
    pending = list(jobs)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        while True:
            with lock:
                if not pending:
                    return
                item, seq = pending.pop()
            try:
                save(engines[k % 2], item, seq)
            except BaseException as exc:
                errors.append(exc)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    for e in engines:
        e.dispose()
    return errors
