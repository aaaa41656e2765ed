import pytest

from assessment.errors import Conflict, InvalidInput, NotFound
from assessment.models import Attempt, AuditEntry, TestSession
from assessment.sessions import create_session, list_classes, ticket_sheet
from assessment.tickets import ALPHABET

from .factories import import_bank, make_class, make_form, make_window, open_session


def test_session_gives_every_student_a_unique_ticket(db) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts = open_session(db, n_students=25)
    assert len(attempts) == 25
    tickets = [a.ticket for a in attempts]
    assert len(set(tickets)) == 25 and all(len(t) == 8 and set(t) <= set(ALPHABET) for t in tickets)
    assert all(a.status == "not_started" and a.deadline_at is None for a in attempts)
    assert len({a.shuffle_seed for a in attempts}) > 20
    rows = ticket_sheet(db, test_session.id)
    assert [r.seat for r in rows] == list(range(1, 26))
    assert rows[0].ticket_display == rows[0].ticket[:4] + "-" + rows[0].ticket[4:]
    assert db.query(AuditEntry).filter_by(action="session.create").count() == 1


def test_session_checks_grade_window_and_ids(db) -> None:  # type: ignore[no-untyped-def]
    import_bank(db)
    klass = make_class(db, grade=8)
    form5 = make_form(db, 5)
    with pytest.raises(InvalidInput, match="no test window"):
        create_session(db, class_id=klass.id, form_id=make_form(db, 8).id)
    make_window(db)
    with pytest.raises(InvalidInput, match="grade 5"):
        create_session(db, class_id=klass.id, form_id=form5.id)
    with pytest.raises(NotFound):
        create_session(db, class_id=9999, form_id=form5.id)
    with pytest.raises(NotFound):
        create_session(db, class_id=klass.id, form_id=9999)
    with pytest.raises(InvalidInput, match="1-240"):
        create_session(db, class_id=klass.id, form_id=make_form(db, 8).id, minutes=0)


def test_list_classes_counts_students(db) -> None:  # type: ignore[no-untyped-def]
    make_class(db, grade=5, n_students=4)
    make_class(db, grade=8, n_students=2, school="jh-t01")
    rows = list_classes(db)
    assert [(r["grade"], r["students"]) for r in rows] == [(5, 4), (8, 2)]
    assert [r["school"] for r in list_classes(db, school_source_id="jh-t01")] == ["jh-t01"]
    assert [r["open_session"] for r in rows] == [None, None]
    assert db.query(Attempt).count() == 0


@pytest.mark.parametrize(("status", "shown"), [("open", True), ("paused", True), ("closed", False)])
def test_list_classes_shows_the_running_session(db, status: str, shown: bool) -> None:  # type: ignore[no-untyped-def]
    running, _ = open_session(db, n_students=2)
    running.status = status
    db.commit()
    [row] = list_classes(db)
    assert row["id"] == running.class_id and row["open_session"] == (running.id if shown else None)


@pytest.mark.parametrize("status", ["open", "paused"])
def test_a_class_gets_no_second_session_while_one_is_open_or_paused(db, status: str) -> None:  # type: ignore[no-untyped-def]
    first, attempts = open_session(db, n_students=3)
    first.status = status
    db.commit()
    with pytest.raises(Conflict, match=rf"class .* already has an open session \({first.id}\); close it first") as exc:
        create_session(db, class_id=first.class_id, form_id=first.form_id)
    assert exc.value.code == "class_busy"
    db.rollback()
    assert db.query(TestSession).count() == 1 and db.query(Attempt).count() == len(attempts) == 3


def test_a_closed_session_frees_the_class(db) -> None:  # type: ignore[no-untyped-def]
    first, _ = open_session(db, n_students=2)
    first.status = "closed"
    db.commit()
    second = create_session(db, class_id=first.class_id, form_id=first.form_id)
    assert second.id != first.id and db.query(Attempt).filter_by(session_id=second.id).count() == 2
