"""Services behind the proctor console: operational forms, open windows, today's sessions, opening a session."""
from datetime import timedelta

import pytest

from assessment.accounts import create_user
from assessment.db import utcnow
from assessment.errors import Conflict, Forbidden, InvalidInput
from assessment.forms import operational_forms
from assessment.models import ItemRecord, TestSession
from assessment.proctoring import close_session, console_sessions, open_class_session
from assessment.windows import create_window, selectable_windows
from tests.assessment.factories import (
    import_bank,
    make_class,
    make_form,
    make_window,
    open_session,
)


def test_operational_forms_newest_first_without_retired_items(db) -> None:  # type: ignore[no-untyped-def]
    import_bank(db)
    old, new, grade8 = make_form(db, 5, seed=1), make_form(db, 5, seed=2), make_form(db, 8)
    assert [f.id for f in operational_forms(db, 5)] == [new.id, old.id]
    assert [f.id for f in operational_forms(db, 8)] == [grade8.id]
    only_old = next(fi.item_pk for fi in old.items if fi.item_pk not in {n.item_pk for n in new.items})
    retired = db.get(ItemRecord, only_old)
    retired.status = "retired"
    db.flush()
    assert [f.id for f in operational_forms(db, 5)] == [new.id]


def test_selectable_windows(db) -> None:  # type: ignore[no-untyped-def]
    assert selectable_windows(db) == []
    now = utcnow()
    past = create_window(db, "112", "112", now - timedelta(days=400), now - timedelta(days=300))
    assert selectable_windows(db) == [past]  # the only window, as current_window would pick it
    current = make_window(db, "113")
    assert selectable_windows(db) == [current]


def test_console_sessions_today_and_open_by_school(db) -> None:  # type: ignore[no-untyped-def]
    ours, _ = open_session(db, n_students=2, school="es-a")
    theirs, _ = open_session(db, n_students=3, school="es-b")
    school_a = ours.school_class.school_id
    rows = console_sessions(db, school_id=school_a)
    assert [(r.id, r.students, r.joined, r.in_progress, r.submitted) for r in rows] == [(ours.id, 2, 0, 0, 0)]
    assert {r.id for r in console_sessions(db, school_id=None)} == {ours.id, theirs.id}
    # a session closed yesterday is gone; one still open from yesterday stays
    close_session(db, ours.id, actor="t")
    ours.created_at = utcnow() - timedelta(days=1)
    theirs.created_at = utcnow() - timedelta(days=1)
    db.flush()
    assert [r.id for r in console_sessions(db, school_id=None)] == [theirs.id]


def test_open_class_session_checks_school_form_window_and_running_sessions(db) -> None:  # type: ignore[no-untyped-def]
    open_session(db, n_students=1, school="es-a")
    klass = make_class(db, n_students=2, school="es-a")
    other = make_class(db, n_students=2, school="es-b")
    form = make_form(db, 5, seed=3)
    grade8 = make_form(db, 8)
    proctor = create_user(db, "p", "proctor-pass", "proctor", school_source_id="es-a")
    with pytest.raises(Forbidden):
        open_class_session(db, user=proctor, class_id=other.id, form_id=form.id, minutes=None, window_code="113")
    with pytest.raises(InvalidInput) as bad:
        open_class_session(db, user=proctor, class_id=klass.id, form_id=grade8.id, minutes=None, window_code="113")
    assert bad.value.code == "bad_form"
    with pytest.raises(InvalidInput) as bad:
        open_class_session(db, user=proctor, class_id=klass.id, form_id=form.id, minutes=0, window_code="113")
    assert bad.value.code == "bad_minutes"
    assert db.query(TestSession).filter_by(class_id=klass.id).count() == 0
    created = open_class_session(db, user=proctor, class_id=klass.id, form_id=form.id, minutes=None, window_code="113")
    assert (created.created_by, created.time_limit_minutes, len(created.attempts)) == ("p", form.time_limit_minutes, 2)
    with pytest.raises(Conflict) as busy:
        open_class_session(db, user=proctor, class_id=klass.id, form_id=form.id, minutes=None, window_code="113")
    assert busy.value.code == "class_busy"
    close_session(db, created.id, actor="p")
    again = open_class_session(db, user=proctor, class_id=klass.id, form_id=form.id, minutes=30, window_code="113")
    assert again.id != created.id
    db.commit()
