"""OneRoster 1.2 CSV import: the fixture package, idempotent re-import, errors by file/line/id."""
import shutil
import zipfile
from pathlib import Path

import pytest

from assessment.models import AuditEntry, District, School, SchoolClass, Student
from assessment.oneroster import RosterImportError, import_oneroster

FIXTURE = Path(__file__).parent / "fixtures" / "oneroster"


def test_fixture_imports_the_roster(db) -> None:  # type: ignore[no-untyped-def]
    report = import_oneroster(db, FIXTURE, actor="test")
    db.commit()
    assert report.created == {"districts": 1, "schools": 2, "classes": 3, "students": 7}
    assert (report.teachers, report.academic_sessions, report.skipped_deleted) == (1, 2, 2)
    schools = {s.source_id: s for s in db.query(School)}
    assert schools["or-es-hp"].level == "elementary" and schools["or-jh-zb"].level == "junior_high"
    assert schools["or-es-hp"].district.source_id == "or-zhongzheng"
    classes = {c.source_id: c for c in db.query(SchoolClass)}
    assert (classes["cl-hp-501"].grade, classes["cl-zb-801"].grade, classes["cl-hp-501"].name) == (5, 8, "五年1班")
    ming = db.query(Student).filter_by(source_id="u-s-001").one()
    assert (ming.display_name, ming.seat_number, ming.gender, ming.school_class.source_id) == ("王小明", 1, "M", "cl-hp-501")
    assert db.query(Student).filter_by(source_id="u-s-008").count() == 0  # tobedeleted
    assert db.query(AuditEntry).filter_by(action="roster.import").count() == 1


def test_reimport_is_idempotent_and_updates_by_sourced_id(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_oneroster(db, FIXTURE)
    db.commit()
    again = import_oneroster(db, FIXTURE)
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
    assert again.unchanged == {"districts": 1, "schools": 2, "classes": 3, "students": 7}
    pkg = tmp_path / "pkg"
    shutil.copytree(FIXTURE, pkg)
    users = (pkg / "users.csv").read_text(encoding="utf-8").replace(",小明,王,", ",曉明,王,")
    (pkg / "users.csv").write_text(users, encoding="utf-8")
    moved = (pkg / "enrollments.csv").read_text(encoding="utf-8").replace("e-002,active,2024-08-01T00:00:00Z,cl-hp-501",
                                                                          "e-002,active,2024-08-01T00:00:00Z,cl-hp-502")
    (pkg / "enrollments.csv").write_text(moved, encoding="utf-8")
    report = import_oneroster(db, pkg)
    db.commit()
    assert report.updated["students"] == 2 and report.created["students"] == 0
    assert db.query(Student).filter_by(source_id="u-s-001").one().given_name == "曉明"
    assert db.query(Student).filter_by(source_id="u-s-002").one().school_class.source_id == "cl-hp-502"
    assert db.query(District).count() == 1 and db.query(Student).count() == 7


def test_zip_package(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "roster.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in FIXTURE.iterdir():
            zf.write(f, f"export/{f.name}")
    assert import_oneroster(db, archive).created["students"] == 7


def _broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    pkg = tmp_path / "broken"
    if not pkg.exists():
        shutil.copytree(FIXTURE, pkg)
    text = (pkg / file).read_text(encoding="utf-8")
    assert old in text
    (pkg / file).write_text(text.replace(old, new), encoding="utf-8")
    return pkg


def test_referential_errors_are_reported_by_file_line_and_id_and_nothing_is_imported(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _broken(tmp_path, "classes.csv", "cl-zb-801,active,2024-08-01T00:00:00Z,八年1班,08,,801,homeroom,,or-jh-zb",
            "cl-zb-801,active,2024-08-01T00:00:00Z,八年1班,08,,801,homeroom,,or-missing")
    _broken(tmp_path, "classes.csv", '"as-113,as-113-1"', '"as-113,as-999"')
    _broken(tmp_path, "enrollments.csv", "e-003,active,2024-08-01T00:00:00Z,cl-hp-501,or-es-hp,u-s-003",
            "e-003,active,2024-08-01T00:00:00Z,cl-hp-599,or-es-hp,u-s-003")
    pkg = _broken(tmp_path, "orgs.csv", "or-jh-zb,active,2024-08-01T00:00:00Z,正濱國中,school,173502,or-zhongzheng",
                  "or-jh-zb,active,2024-08-01T00:00:00Z,正濱國中,school,173502,or-nowhere")
    with pytest.raises(RosterImportError) as exc:
        import_oneroster(db, pkg)
    db.rollback()
    text = str(exc.value.message)
    assert "classes.csv line 4: cl-zb-801: schoolSourcedId 'or-missing'" in text
    assert "classes.csv line 3: cl-hp-502: termSourcedIds names 'as-999'" in text
    assert "enrollments.csv line 4: e-003: classSourcedId 'cl-hp-599'" in text
    assert "orgs.csv line 5: or-jh-zb: parentSourcedId 'or-nowhere'" in text
    assert exc.value.code == "roster_invalid" and "nothing was imported" in text
    assert db.query(School).count() == db.query(Student).count() == 0


def test_structural_errors(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "partial"
    shutil.copytree(FIXTURE, pkg)
    (pkg / "enrollments.csv").unlink()
    with pytest.raises(RosterImportError, match=r"enrollments\.csv: required file is missing"):
        import_oneroster(db, pkg)
    shutil.copy(FIXTURE / "enrollments.csv", pkg / "enrollments.csv")
    (pkg / "users.csv").write_text("sourcedId,givenName\nu1,A\n", encoding="utf-8")
    with pytest.raises(RosterImportError, match=r"users\.csv line 1: missing column"):
        import_oneroster(db, pkg)
    dup = _broken(tmp_path, "orgs.csv", "or-es-hp,active", "or-jh-zb,active")
    with pytest.raises(RosterImportError, match="duplicate sourcedId"):
        import_oneroster(db, dup)
    with pytest.raises(Exception, match="neither a folder nor a zip"):
        import_oneroster(db, FIXTURE / "orgs.csv")
