from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.accounts import authenticate
from assessment.demo import DEMO_ACCOUNTS, seed_demo
from assessment.models import Attempt, TestSession
from tests.assessment.factories import starter_items as starter_bank


def test_demo_is_complete_and_idempotent(db: Session) -> None:
    first = seed_demo(db, starter_bank())
    db.commit()
    assert first.items == first.items_added == len(starter_bank())
    assert first.city is not None and first.city.grade5_students == 2500
    assert [(f.grade, len(f.items), f.time_limit_minutes) for f in first.forms] == [(5, 20, 35), (8, 24, 40)]
    assert first.session is not None and first.session.status == "open"
    assert len(first.tickets) == len(first.session.school_class.students) > 0
    for username, (role, password, _school) in DEMO_ACCOUNTS.items():
        assert authenticate(db, username, password).role == role

    again = seed_demo(db, starter_bank())
    db.commit()
    assert (again.items_added, again.city) == (0, None)
    assert again.session is not None and again.session.id == first.session.id
    assert [t.ticket for t in again.tickets] == [t.ticket for t in first.tickets]
    assert db.scalar(select(func.count()).select_from(TestSession)) == 1
    assert db.scalar(select(func.count()).select_from(Attempt)) == len(first.tickets)
