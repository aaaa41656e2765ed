import pytest

from assessment.errors import Conflict, InvalidInput
from assessment.forms import (
    Blueprint,
    build_forms,
    default_blueprint,
    form_summary,
    new_form_version,
    update_form,
)
from assessment.models import AuditEntry

from .factories import import_bank, open_session


@pytest.fixture
def bank(db):  # type: ignore[no-untyped-def]
    import_bank(db)
    db.commit()
    return db


def test_default_blueprint_builds_a_balanced_form(bank) -> None:  # type: ignore[no-untyped-def]
    bp = default_blueprint(bank, 5, seed=7)
    form = build_forms(bank, bp)[0]
    summary = form_summary(form)
    assert summary["code"] == "G5-S7" and summary["version"] == 1 and summary["grade"] == 5
    assert summary["n_items"] == bp.total_items
    assert summary["items_per_dimension"] == {d: n for d, n in bp.items_per_dimension.items() if n}
    assert len(summary["anchors"]) == bp.anchors > 0
    records = [fi.item for fi in form.items]
    assert all(r.status == "operational" and "5" in r.grades.split(",") for r in records)
    assert [fi.position for fi in form.items] == list(range(1, len(records) + 1))
    assert bank.query(AuditEntry).filter_by(action="form.build").count() == 1


def test_building_is_deterministic_and_versioned(bank) -> None:  # type: ignore[no-untyped-def]
    bp = default_blueprint(bank, 8, seed=3)
    first = form_summary(build_forms(bank, bp)[0])
    second = form_summary(build_forms(bank, bp)[0])
    assert first["items"] == second["items"]
    assert (first["code"], first["version"], second["version"]) == ("G8-S3", 1, 2)
    other = form_summary(build_forms(bank, default_blueprint(bank, 8, seed=4), code="OTHER")[0])
    assert other["items"] != first["items"]


def test_same_seed_shares_anchors_across_grades(bank) -> None:  # type: ignore[no-untyped-def]
    g5 = form_summary(build_forms(bank, default_blueprint(bank, 5, seed=11))[0])
    g8 = form_summary(build_forms(bank, default_blueprint(bank, 8, seed=11))[0])
    assert g5["anchors"] and sorted(g5["anchors"]) == sorted(g8["anchors"])


def test_rotated_booklets_share_anchors_and_rotate_the_rest(bank) -> None:  # type: ignore[no-untyped-def]
    bp = Blueprint(grade=8, items_per_dimension={"D1": 3, "D2": 3, "D3": 3}, anchors=3, time_limit_minutes=40, seed=2)
    forms = [form_summary(f) for f in build_forms(bank, bp, code="ROT", booklets=3)]
    assert [f["code"] for f in forms] == ["ROT-A", "ROT-B", "ROT-C"]
    anchors = [sorted(f["anchors"]) for f in forms]
    assert anchors[0] == anchors[1] == anchors[2] and len(anchors[0]) == 3
    rest = [set(f["items"]) - set(f["anchors"]) for f in forms]
    assert rest[0] != rest[1] and all(len(r) == 6 for r in rest)


def test_blueprint_asking_too_much_says_what_to_change(bank) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="D1 items but the bank has only"):
        build_forms(bank, Blueprint(grade=5, items_per_dimension={"D1": 40}, anchors=0))
    with pytest.raises(InvalidInput, match="anchors"):
        build_forms(bank, Blueprint(grade=5, items_per_dimension={"D1": 9}, anchors=9))
    with pytest.raises(InvalidInput):
        Blueprint(grade=6, items_per_dimension={"D1": 1})
    with pytest.raises(InvalidInput):
        Blueprint(grade=5, items_per_dimension={"D9": 1})


def test_form_is_frozen_once_a_session_uses_it(db) -> None:  # type: ignore[no-untyped-def]
    test_session, _ = open_session(db)
    form = test_session.form
    assert form.frozen
    with pytest.raises(Conflict) as exc:
        update_form(db, form.id, time_limit_minutes=20)
    assert exc.value.code == "form_frozen"
    copy = new_form_version(db, form.id)
    assert copy.version == form.version + 1 and not copy.frozen
    assert [fi.item_pk for fi in copy.items] == [fi.item_pk for fi in form.items]
    update_form(db, copy.id, time_limit_minutes=20, shuffle_options=True, item_ids=[fi.item.item_id for fi in form.items][:4])
    db.flush()
    assert copy.time_limit_minutes == 20 and len(copy.items) == 4 and copy.shuffle_options


@pytest.mark.parametrize("minutes", [0, -5, 241])
def test_time_limit_outside_1_to_240_is_refused_not_defaulted(bank, minutes: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=f"time limit must be 1-240 minutes; got {minutes}"):
        default_blueprint(bank, 5, time_limit_minutes=minutes)


def test_time_limit_defaults_only_when_not_given(bank) -> None:  # type: ignore[no-untyped-def]
    assert default_blueprint(bank, 5).time_limit_minutes == 35
    assert default_blueprint(bank, 8).time_limit_minutes == 40
    assert default_blueprint(bank, 5, time_limit_minutes=1).time_limit_minutes == 1
