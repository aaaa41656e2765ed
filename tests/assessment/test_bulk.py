"""copy_rows: COPY on PostgreSQL, batched INSERT elsewhere; both store exactly what `insert()` stores."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from assessment.bulk import copy_rows, uses_copy
from assessment.errors import InvalidInput
from assessment.models import AuditEntry, ParameterSet, ResultAggregate, ScoreRun, TestWindow

WHEN = datetime(2026, 5, 20, 8, 30, tzinfo=UTC)


def _audit_rows(tag: str, n: int = 3) -> list[dict[str, Any]]:
    return [{"at": WHEN + timedelta(seconds=k), "actor": f"{tag}", "action": "bulk.test",
             "target": "tab\there, newline\nthere, backslash \\ and 值 ,|\"'",
             "detail": {"k": k, "值": [1.5, None, "a\tb"], "nested": {"empty": []}}, "ip": ""} for k in range(n)]


def _stored(db: Session, actor: str) -> list[tuple[Any, ...]]:
    db.expire_all()
    return [(r.at, r.action, r.target, r.detail, r.ip) for r in
            db.scalars(select(AuditEntry).where(AuditEntry.actor == actor).order_by(AuditEntry.at))]


def test_copy_rows_uses_copy_exactly_on_postgresql(db: Session) -> None:
    assert uses_copy(db) is (db.get_bind().dialect.name == "postgresql")


def test_copy_rows_stores_what_insert_stores(db: Session) -> None:
    db.execute(insert(AuditEntry), _audit_rows("by-insert"))
    assert copy_rows(db, AuditEntry, _audit_rows("by-copy")) == 3
    db.commit()
    copied = _stored(db, "by-copy")
    assert copied == _stored(db, "by-insert")
    assert copied[0][0] == WHEN and copied[0][2].startswith("tab\there")
    assert copied[2][3] == {"k": 2, "值": [1.5, None, "a\tb"], "nested": {"empty": []}}
    if db.get_bind().dialect.name == "postgresql":  # the JSON text itself is the same
        texts = db.execute(text("SELECT actor, detail::text FROM audit_log WHERE action = 'bulk.test' "
                                "ORDER BY actor, at")).all()
        assert [t for a, t in texts if a == "by-copy"] == [t for a, t in texts if a == "by-insert"]


def test_columns_left_out_get_their_python_defaults(db: Session) -> None:
    before = datetime.now(UTC)
    copy_rows(db, AuditEntry.__table__, [{"actor": "d", "action": "bulk.default"}] * 2)  # a Table works too
    db.commit()
    rows = db.scalars(select(AuditEntry).where(AuditEntry.actor == "d")).all()
    assert len(rows) == 2
    assert all(r.target == "" and r.ip == "" and r.detail == {} for r in rows)
    assert all(before - timedelta(seconds=1) <= r.at <= datetime.now(UTC) + timedelta(seconds=1) for r in rows)
    assert rows[0].detail is not rows[1].detail  # a callable default is called per row


def test_nullable_and_none_values_match_insert(db: Session) -> None:
    pset = ParameterSet(name="p")
    window = TestWindow(code="t1", name="t", academic_year=113, starts_at=WHEN, ends_at=WHEN + timedelta(days=1))
    db.add_all([pset, window])
    db.flush()
    runs = [ScoreRun(window_id=window.id, parameter_set_id=pset.id, fingerprint=f, software_version="v")
            for f in ("a", "b")]
    db.add_all(runs)
    db.flush()

    def rows(run_id: int) -> list[dict[str, Any]]:
        shown = {"run_id": run_id, "level": "school", "unit": "es-1", "district_id": 1, "school_id": 2, "class_id": None,
                 "grade": 5, "subgroup": "all", "suppressed": False, "suppression": "", "n": 25, "mean": 512.25,
                 "se": 8.5, "sd": 97.0, "sd_se": 6.1, "ci_low": 495.6, "ci_high": 528.9,
                 "percents": {"basic": [40.0, 5.2]}, "dimensions": {"D1": 55.5, "D2": None}}
        hidden = shown | {"unit": "es-2", "suppressed": True, "suppression": "small", "n": None, "mean": None,
                          "se": None, "sd": None, "sd_se": None, "ci_low": None, "ci_high": None, "percents": None,
                          "dimensions": None}
        return [shown, hidden]

    db.execute(insert(ResultAggregate), rows(runs[0].id))
    copy_rows(db, ResultAggregate, rows(runs[1].id))
    db.commit()
    db.expire_all()
    cols = [c for c in ResultAggregate.__table__.c if c.name not in ("id", "run_id")]

    def stored(run_id: int) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in db.execute(select(*cols).where(ResultAggregate.run_id == run_id)
                                             .order_by(ResultAggregate.unit))]

    assert stored(runs[1].id) == stored(runs[0].id)
    assert stored(runs[1].id)[1][cols.index(ResultAggregate.__table__.c.mean)] is None


def test_rows_are_part_of_the_callers_transaction(db: Session) -> None:
    copy_rows(db, AuditEntry, _audit_rows("rolled-back"))
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == "rolled-back")) == 3
    db.rollback()
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == "rolled-back")) == 0


def test_no_rows_is_a_no_op(db: Session) -> None:
    assert copy_rows(db, AuditEntry, []) == 0
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_unknown_column_is_named(db: Session) -> None:
    with pytest.raises(InvalidInput, match=r"table audit_log has no column 'who'.*its columns are id, at, actor"):
        copy_rows(db, AuditEntry, [{"actor": "x", "action": "y", "who": "z"}])


def test_rows_with_other_columns_are_named_and_nothing_is_stored(db: Session) -> None:
    rows = _audit_rows("mixed")
    del rows[2]["ip"]
    with pytest.raises(InvalidInput, match=r"row 2 of audit_log has the columns \[.*\]; every row needs exactly"):
        copy_rows(db, AuditEntry, rows)
    # refused before anything was sent: the transaction is still usable and holds no row
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_column_types_still_validate_values(db: Session) -> None:
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        copy_rows(db, AuditEntry, [{"actor": "x", "action": "y", "at": datetime(2026, 1, 1)}])
