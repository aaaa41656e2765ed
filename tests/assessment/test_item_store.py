from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.errors import Conflict
from assessment.item_store import import_items, item_from_record, list_items, parameter_set_items
from assessment.models import AuditEntry, Form, FormItem, ItemRecord, ParameterSet
from item_bank import load_bank
from tests.item_files import GRID, SINGLE, write_bank


def test_import_stores_items_parameters_and_audit(db: Session, tmp_path: Path) -> None:
    items = load_bank(write_bank(tmp_path / "bank"))
    report = import_items(db, items, actor="cli:test", source="bank")
    db.commit()
    assert (report.added, report.unchanged, report.parameters) == (2, 0, 2)
    assert report.parameter_sets == ("provisional-test",)
    assert db.scalar(select(ParameterSet.provisional)) is True
    params = {p.item.item_id: p for p in parameter_set_items(db, "provisional-test")}
    assert params["t-harbour-path"].model == "gpcm" and params["t-harbour-path"].d == [0.8, -0.4]
    assert db.scalar(select(AuditEntry.action)) == "items.import"
    rows = list_items(db, grade=8)
    assert [r.item_id for r in rows] == ["t-harbour-path", "t-lamp-choice"]
    assert item_from_record(rows[1]) == next(i for i in items if i.id == "t-lamp-choice")


def test_reimport_is_idempotent(db: Session, tmp_path: Path) -> None:
    items = load_bank(write_bank(tmp_path / "bank"))
    import_items(db, items, actor="t")
    db.commit()
    report = import_items(db, items, actor="t")
    db.commit()
    assert (report.added, report.unchanged) == (0, 2)
    assert db.scalar(select(func.count()).select_from(ItemRecord)) == 2


def test_published_version_is_immutable_and_nothing_is_half_imported(db: Session, tmp_path: Path) -> None:
    import_items(db, load_bank(write_bank(tmp_path / "v1")), actor="t")
    db.commit()
    edited = SINGLE.replace("共掛幾個？", "一共掛了幾個？")
    new_item = GRID.replace("t-harbour-path", "t-new-path")
    bank = write_bank(tmp_path / "v1b", **{"t-lamp-choice.yaml": edited, "t-new-path.yaml": new_item})
    with pytest.raises(Conflict, match=r"t-lamp-choice version 1 .* immutable: give the edited item version 2"):
        import_items(db, load_bank(bank), actor="t")
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ItemRecord)) == 2  # t-new-path not stored

    bumped = edited.replace("version: 1", "version: 2")
    report = import_items(db, load_bank(write_bank(tmp_path / "v2", **{"t-lamp-choice.yaml": bumped})), actor="t")
    db.commit()
    assert report.added == 1
    assert [r.version for r in list_items(db) if r.item_id == "t-lamp-choice"] == [2]


def test_status_change_updates_in_place(db: Session, tmp_path: Path) -> None:
    import_items(db, load_bank(write_bank(tmp_path / "a")), actor="t")
    db.commit()
    retired = SINGLE.replace("status: operational", "status: retired")
    report = import_items(db, load_bank(write_bank(tmp_path / "b", **{"t-lamp-choice.yaml": retired})), actor="t")
    db.commit()
    assert (report.metadata_updated, report.unchanged) == (1, 1)
    assert [r.item_id for r in list_items(db, status="retired")] == ["t-lamp-choice"]


def _stored(db: Session, item_id: str = "t-lamp-choice") -> ItemRecord:
    return db.scalars(select(ItemRecord).where(ItemRecord.item_id == item_id)).one()


def test_published_version_cannot_be_edited_through_a_draft_round_trip(db: Session, tmp_path: Path) -> None:
    import_items(db, load_bank(write_bank(tmp_path / "v1")), actor="t", source="first-import")
    db.commit()
    published_hash = _stored(db).content_hash
    as_draft = SINGLE.replace("status: operational", "status: draft")
    bank = write_bank(tmp_path / "draft", **{"t-lamp-choice.yaml": as_draft})
    with pytest.raises(Conflict) as caught:
        import_items(db, load_bank(bank), actor="t", source=str(bank))
    db.rollback()
    message = caught.value.message
    # names the file being imported and where the stored version came from
    assert str(bank / "t-lamp-choice.yaml") in message and "imported from first-import" in message
    assert "stored as operational" in message and "cannot go back to draft" in message
    edited_draft = as_draft.replace("key: B", "key: C")
    with pytest.raises(Conflict, match=r"differs in content .* give the edited item version 2"):
        import_items(db, load_bank(write_bank(tmp_path / "edit", **{"t-lamp-choice.yaml": edited_draft})), actor="t")
    db.rollback()
    record = _stored(db)
    assert (record.status, record.content_hash, record.content["key"]) == ("operational", published_hash, "B")


def test_a_version_once_pilot_stays_published(db: Session, tmp_path: Path) -> None:
    draft = SINGLE.replace("status: operational", "status: draft")
    import_items(db, load_bank(write_bank(tmp_path / "a", **{"t-lamp-choice.yaml": draft})), actor="t")
    db.commit()
    # a draft that was never published may still change in place
    edited = draft.replace("key: B", "key: C")
    report = import_items(db, load_bank(write_bank(tmp_path / "b", **{"t-lamp-choice.yaml": edited})), actor="t")
    db.commit()
    assert report.updated_drafts == 1 and _stored(db).content["key"] == "C"
    pilot = edited.replace("status: draft", "status: pilot")
    report = import_items(db, load_bank(write_bank(tmp_path / "c", **{"t-lamp-choice.yaml": pilot})), actor="t")
    db.commit()
    assert report.metadata_updated == 1 and _stored(db).status == "pilot"
    with pytest.raises(Conflict, match="cannot go back to draft"):
        import_items(db, load_bank(write_bank(tmp_path / "d", **{"t-lamp-choice.yaml": edited})), actor="t")
    db.rollback()
    # forward transitions still work: pilot -> operational -> retired
    for status in ("operational", "retired"):
        forward = pilot.replace("status: pilot", f"status: {status}")
        import_items(db, load_bank(write_bank(tmp_path / status, **{"t-lamp-choice.yaml": forward})), actor="t")
        db.commit()
        assert _stored(db).status == status and _stored(db).content["key"] == "C"


def test_a_version_used_by_a_form_is_fixed_even_if_stored_as_draft(db: Session, tmp_path: Path) -> None:
    # e.g. a database that went through the old draft round-trip: the form reference still fixes the content
    draft = SINGLE.replace("status: operational", "status: draft")
    import_items(db, load_bank(write_bank(tmp_path / "a", **{"t-lamp-choice.yaml": draft})), actor="t")
    record = _stored(db)
    form = Form(code="G5-X", version=3, grade=5, time_limit_minutes=35, frozen=True)
    form.items = [FormItem(position=1, item_pk=record.pk)]
    db.add(form)
    db.commit()
    edited = draft.replace("key: B", "key: A")
    with pytest.raises(Conflict, match=r"stored as draft, used by form G5-X v3 .* give the edited item version 2"):
        import_items(db, load_bank(write_bank(tmp_path / "b", **{"t-lamp-choice.yaml": edited})), actor="t")
    db.rollback()
    assert _stored(db).content["key"] == "B"


def test_a_database_holding_the_leaky_version_1_stays_consistent(db: Session) -> None:
    """Issue 8.1: importing the fixed bank retires version 1 (still deliverable, no new sessions) and adds v2."""
    import yaml

    from assessment.forms import build_forms, default_blueprint, form_items, operational_forms, update_form
    from item_bank import build_item, content_dir

    old_file = content_dir() / "retired" / "d1-data-kinds.v1.yaml"
    data = yaml.safe_load(old_file.read_text(encoding="utf-8")) | {"status": "operational"}
    leaky_v1 = build_item(data, check_presentation=False)  # as stored before the fix
    bank = load_bank(content_dir())
    import_items(db, [i for i in bank if i.id != "d1-data-kinds"] + [leaky_v1], actor="test", source="old bank")
    form = build_forms(db, default_blueprint(db, 8, seed=1))[0]
    update_form(db, form.id, item_ids=["d1-data-kinds", "d1-catch-log-column"])
    db.commit()
    assert form in operational_forms(db, 8)

    report = import_items(db, bank, actor="test", source="fixed bank")
    db.commit()
    assert report.added == 1 and report.metadata_updated == 1  # v2 new; v1 relabelled retired
    versions = {r.version: r.status for r in db.scalars(select(ItemRecord).where(ItemRecord.item_id == "d1-data-kinds"))}
    assert versions == {1: "retired", 2: "operational"}
    assert form not in operational_forms(db, 8)  # no new session on a form that shows the leaky order
    assert [i.version for _, _, i in form_items(db, form) if i.id == "d1-data-kinds"] == [1]  # still deliverable
    assert next(r for r in list_items(db, grade=8) if r.item_id == "d1-data-kinds").version == 2
    params = [p for p in parameter_set_items(db, "provisional-2026") if p.item.item_id == "d1-data-kinds"]
    assert sorted(p.item.version for p in params) == [1, 2] and params[0].a == params[1].a
