"""The attack proof's world: two schools, each with a live all-types session, and staff of every role.

School A (es-a) attacks school B (es-b). `two_schools` is the light world (delivery and proctoring);
`census_world` adds the scored simulated census of tests/conftest.py, so the results dashboards
have both schools to show.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.models import AuditEntry, School, SchoolClass, User
from item_bank import Item
from tests.assessment.factories import open_all_types_session

PASSWORD = "attack-proof-pass"
SCHOOL_A, SCHOOL_B = "es-a", "es-b"
# username -> (role, school, classes); every role of school A, B's proctor, and the city-wide roles
STAFF: dict[str, tuple[str, str | None, list[str]]] = {
    "a-admin": ("school_admin", SCHOOL_A, []),
    "a-teacher": ("teacher", SCHOOL_A, [f"{SCHOOL_A}-c1"]),
    "a-proctor": ("proctor", SCHOOL_A, []),
    "b-proctor": ("proctor", SCHOOL_B, []),
    "researcher": ("researcher", None, []),
    "bureau": ("bureau", None, []),
    "root": ("admin", None, []),
}
ROLES_OF_A = ("a-admin", "a-teacher", "a-proctor", "researcher", "bureau")


@dataclass(frozen=True)
class SchoolSide:
    """One school's live session: ids and tickets only (no ORM objects outlive the fixture)."""

    source_id: str
    school_id: int
    session_id: int
    class_id: int
    class_source_id: str
    attempt_ids: tuple[int, ...]
    tickets: tuple[str, ...]


@dataclass(frozen=True)
class World:
    """Both schools and the items of their (identical) all-types form, by type."""

    a: SchoolSide
    b: SchoolSide
    items: dict[str, Item]


def _side(db: Session, school: str) -> tuple[SchoolSide, dict[str, Item]]:
    test_session, attempts, items = open_all_types_session(db, n_students=2, school=school)
    klass = test_session.school_class
    side = SchoolSide(source_id=school, school_id=klass.school_id, session_id=test_session.id, class_id=klass.id,
                      class_source_id=klass.source_id, attempt_ids=tuple(a.id for a in attempts),
                      tickets=tuple(a.ticket for a in attempts))
    return side, items


def _add_staff(db: Session) -> None:
    existing = set(db.scalars(select(User.username)))
    for username, (role, school, classes) in STAFF.items():
        if username not in existing:
            create_user(db, username, PASSWORD, role, school_source_id=school, class_source_ids=classes)
    db.commit()


def build_world(db: Session) -> World:
    """Sessions for a grade-5 class of es-a and of es-b (classes es-X-c1 unless the census made them) and staff."""
    a, items = _side(db, SCHOOL_A)
    b, _ = _side(db, SCHOOL_B)
    _add_staff(db)
    return World(a=a, b=b, items=items)


@pytest.fixture
def two_schools(db: Session) -> World:
    """The light world: no results, just two live sessions and the staff."""
    return build_world(db)


@pytest.fixture
def census_world(census: None, db: Session) -> World:
    """The census of tests/conftest.py (schools es-a ... jh-c, scored) plus the two live sessions and the staff."""
    return build_world(db)


# --- clients -----------------------------------------------------------------------------------------

_CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


def csrf_of(page: bytes) -> str:
    match = _CSRF.search(page)
    assert match, "the page has no CSRF token"
    return match.group(1).decode()


def staff_client(app: Flask, username: str) -> tuple[FlaskClient, str]:
    """A client signed in as `username`, with its session's CSRF token."""
    client = app.test_client()
    token = csrf_of(client.get("/login").data)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, (username, response.status_code)
    return client, csrf_of(client.get("/home").data)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def student_token(client: FlaskClient, ticket: str, *, start: bool = True) -> str:
    """What the player does: sign in with the ticket and (by default) press start."""
    response = client.post("/api/v1/login", json={"ticket": ticket})
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["token"]
    if start:
        started = client.post("/api/v1/attempt/start", headers=bearer(token))
        assert started.status_code == 200, started.get_json()
    return token


# --- what the database holds ---------------------------------------------------------------------------

# Tables whose rows an attack may try to change; a refused request must leave every one as it was.
_WATCHED = {
    "answers": "SELECT attempt_id, item_pk, seq, response, score, answered_at FROM answers ORDER BY id",
    "attempts": "SELECT id, status, locked, token_version, extra_seconds, deadline_at, started_at, submitted_at,"
                " last_contact_at FROM attempts ORDER BY id",
    "sessions": "SELECT id, status, paused_at, closed_at FROM test_sessions ORDER BY id",
    "audit_log": "SELECT id, actor, action, target FROM audit_log ORDER BY id",
    "users": "SELECT id, session_version, active FROM users ORDER BY id",
}


def snapshot(engine: Engine, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """The watched tables' rows (all of them by default), read in a short transaction of its own."""
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(_WATCHED[name]))] for name in tables or _WATCHED}


def audit_actions(db: Session) -> list[str]:
    db.expire_all()
    actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    db.commit()
    return actions


@pytest.fixture
def watch(clean_db: Engine) -> Iterator[Engine]:
    """The engine to `snapshot` with."""
    yield clean_db


def school_names(db: Session, source_id: str) -> tuple[str, ...]:
    """Strings that only a page about this school would show (its names), for checks that nothing leaked."""
    school = db.scalar(select(School).where(School.source_id == source_id))
    assert school is not None
    names = tuple(n for n in (school.name_zh, school.name_en) if n)
    db.commit()
    return names


def class_source_ids(db: Session, school: str) -> list[str]:
    rows = list(db.scalars(select(SchoolClass.source_id).join(School).where(School.source_id == school)))
    db.commit()
    return rows
