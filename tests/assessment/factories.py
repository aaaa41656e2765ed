"""Small builders for delivery tests: the starter bank, a tiny roster, a window, a form, a session."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from assessment.answers import save_answer
from assessment.attempts import LoginResult, login_with_ticket, start_attempt, submit_attempt
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
from assessment.presence import Presence
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
           "seed_test_day", "starter_items"]


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


def _age(db: Any, attempt: Attempt, **fields: datetime) -> None:
    for name, value in fields.items():
        setattr(attempt, name, value)
    db.flush()


def seed_test_day(db: Session, presence: Presence, *, secret_key: str) -> dict[str, Any]:
    """A test day in every state, for the city overview's tests.

    District kl-a: school es-a1 (a grade-5 class in every state, one without a session, one whose session
    nobody started, a grade-6 class and an empty class); district kl-b: es-b1 (a grade-8 class, done and closed).
    """
    import_bank(db)
    window = make_window(db)
    now = utcnow()
    k1 = make_class(db, grade=5, n_students=8, school="es-a1", district="kl-a", name="五年一班")
    k2 = make_class(db, grade=5, n_students=3, school="es-a1", district="kl-a", name="五年二班")
    k3 = make_class(db, grade=5, n_students=2, school="es-a1", district="kl-a", name="五年三班")
    make_class(db, grade=6, n_students=4, school="es-a1", district="kl-a", name="六年一班")
    make_class(db, grade=5, n_students=0, school="es-a1", district="kl-a", name="五年空班")
    k8 = make_class(db, grade=8, n_students=3, school="es-b1", district="kl-b", name="八年一班")
    form5, form8 = make_form(db, 5), make_form(db, 8)
    s1 = create_session(db, class_id=k1.id, form_id=form5.id, minutes=35)
    s3 = create_session(db, class_id=k3.id, form_id=form5.id, minutes=35)
    s8 = create_session(db, class_id=k8.id, form_id=form8.id, minutes=40)
    db.commit()
    a = sorted(s1.attempts, key=lambda x: x.student.seat_number or 0)
    items = {i.id: i for i in starter_items()}
    item_ids = [fi.item.item_id for fi in form5.items]
    t0 = now - timedelta(minutes=20)  # the class started 20 minutes ago
    # seat 1: not signed in; seat 2: signed in, not started (and locked by the proctor)
    login_with_ticket(db, a[1].ticket, secret_key=secret_key, now=now)
    presence.touch(s1.id, a[1].id, now - timedelta(seconds=10))
    a[1].locked = True
    # seats 3-8 started 20 minutes ago
    for x in a[2:]:
        login_with_ticket(db, x.ticket, secret_key=secret_key, now=t0)
        start_attempt(x, now=t0)
    db.flush()
    # seat 3: writing, heard from just now, saved an answer a minute ago
    save_answer(db, a[2].id, item_ids[0], 1, correct_response(items[item_ids[0]]), now=now - timedelta(minutes=1))
    presence.touch(s1.id, a[2].id, now - timedelta(seconds=5), item_ids[0], active=True)
    # seats 4, 5: no heartbeat for 3 minutes (offline) and nothing saved since the start (stalled)
    for x in a[3:5]:
        presence.touch(s1.id, x.id, now - timedelta(minutes=3))
    # seat 6: submitted; seat 7: timed out (expired by a request); seat 8: past its deadline, never looked at
    submit_attempt(a[5], now=now - timedelta(minutes=2))
    _age(db, a[6], deadline_at=now - timedelta(minutes=1))
    submit_attempt(a[6], now=now)
    _age(db, a[7], deadline_at=now - timedelta(minutes=1))
    presence.touch(s1.id, a[5].id, now - timedelta(minutes=2), active=True)
    # grade 8: everyone submitted, session closed
    for x in s8.attempts:
        login_with_ticket(db, x.ticket, secret_key=secret_key, now=t0)
        start_attempt(x, now=t0)
        submit_attempt(x, now=now - timedelta(minutes=1))
    s8.status, s8.closed_at = "closed", now
    db.commit()
    return {"db": db, "window": window, "presence": presence, "now": now, "s1": s1, "s3": s3, "s8": s8,
            "k2": k2, "k3": k3, "attempts": a}


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
