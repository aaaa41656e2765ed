from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from assessment.db import Base
from assessment.migrate import current_revision, head_revision
from assessment.models import AuditEntry, District


def test_migrations_create_every_model_table(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_datetimes_round_trip_as_utc(db: Session) -> None:
    when = datetime(2026, 5, 20, 8, 30, tzinfo=UTC)
    db.add(AuditEntry(actor="t", action="x", at=when, detail={"k": "值"}))
    db.commit()
    db.expunge_all()
    row = db.scalar(select(AuditEntry))
    assert row.at == when and row.at.tzinfo is not None
    assert row.detail == {"k": "值"}


def test_naive_datetimes_are_refused(db: Session) -> None:
    db.add(AuditEntry(actor="t", action="x", at=datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.commit()


def test_unique_constraints_hold(db: Session) -> None:
    db.add_all([District(source_id="d1", name_zh="甲"), District(source_id="d1", name_zh="乙")])
    with pytest.raises(IntegrityError):
        db.commit()


@pytest.mark.parametrize(("table", "column", "value"), [
    ("attempts", "status", "expired"),  # documented once, never set: now refused
    ("attempts", "submit_reason", "proctor"),
    ("attempts", "source", "paper"),
    ("test_sessions", "status", "scheduled"),
    ("items", "status", "published"),
])
def test_states_outside_their_enum_are_refused_by_the_database(db: Session, table: str, column: str, value: str) -> None:
    """Issue 12: typed states (assessment/states.py, item_bank.ItemStatus) with CHECK constraints (migration 0007)."""
    from sqlalchemy import text

    from tests.assessment.factories import open_all_types_session

    _, attempts, _ = open_all_types_session(db, n_students=1)
    row_id = {"attempts": attempts[0].id, "test_sessions": attempts[0].session_id}.get(table)
    db.commit()
    if row_id is None:
        row_id = db.scalar(text("SELECT MIN(pk) FROM items"))
    key = "pk" if table == "items" else "id"
    with pytest.raises(IntegrityError):
        db.execute(text(f"UPDATE {table} SET {column} = :v WHERE {key} = :id"), {"v": value, "id": row_id})
        db.commit()
    db.rollback()


def test_states_load_as_their_enums(db: Session) -> None:
    from assessment.models import Attempt
    from assessment.states import AttemptSource, AttemptStatus, SessionStatus
    from tests.assessment.factories import open_all_types_session

    _, attempts, _ = open_all_types_session(db, n_students=1)
    db.commit()
    db.expunge_all()
    attempt = db.get(Attempt, attempts[0].id)
    assert attempt is not None
    assert attempt.status is AttemptStatus.NOT_STARTED and attempt.source is AttemptSource.ONLINE
    assert attempt.session.status is SessionStatus.OPEN and attempt.status == "not_started"


def test_migration_0007_goes_down_and_up_again(engine: Engine) -> None:
    """The CHECK constraints can be removed and re-added (SQLite rebuilds the tables) with data in them."""
    from alembic import command

    from assessment.migrate import alembic_config, upgrade

    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006_attempt_last_contact")
    assert current_revision(engine) == "0006_attempt_last_contact"
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine) == "0007_state_checks"
