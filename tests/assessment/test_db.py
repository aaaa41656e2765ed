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
