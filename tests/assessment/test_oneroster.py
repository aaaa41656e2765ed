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
    # u-s-002 moves to 五年2班, whose seat 2 is taken (u-s-005): it gets seat 3 there
    users = users.replace(",S002,,,,,05,,,,,,,or-es-hp,,2\n", ",S002,,,,,05,,,,,,,or-es-hp,,3\n")
    (pkg / "users.csv").write_text(users, encoding="utf-8")
    moved = (pkg / "enrollments.csv").read_text(encoding="utf-8").replace("e-002,active,2024-08-01T00:00:00Z,cl-hp-501",
                                                                          "e-002,active,2024-08-01T00:00:00Z,cl-hp-502")
    (pkg / "enrollments.csv").write_text(moved, encoding="utf-8")
    report = import_oneroster(db, pkg)
    db.commit()
    assert report.updated["students"] == 2 and report.created["students"] == 0
    assert db.query(Student).filter_by(source_id="u-s-001").one().given_name == "曉明"
    moved_student = db.query(Student).filter_by(source_id="u-s-002").one()
    assert (moved_student.school_class.source_id, moved_student.seat_number) == ("cl-hp-502", 3)
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


def _city_sized(tmp_path: Path, n_students: int) -> Path:
    """The fixture plus many more students, as a real city export (users.csv well over 128 KiB)."""
    pkg = tmp_path / "city"
    shutil.copytree(FIXTURE, pkg)
    users = (pkg / "users.csv").read_text(encoding="utf-8")
    enrollments = (pkg / "enrollments.csv").read_text(encoding="utf-8")
    for k in range(100, 100 + n_students):
        users += f"u-s-{k},active,2024-08-01T00:00:00Z,true,s{k},,名{k},王,,S{k},,,,,05,,,,,,,or-es-hp,,\n"
        enrollments += f"e-{k},active,2024-08-01T00:00:00Z,cl-hp-501,or-es-hp,u-s-{k},student,true,2024-08-30,\n"
    (pkg / "users.csv").write_text(users, encoding="utf-8")
    (pkg / "enrollments.csv").write_text(enrollments, encoding="utf-8")
    return pkg


@pytest.mark.parametrize("n_students", [3000, 5], ids=["file over the csv field limit", "small file"])
def test_unbalanced_quote_is_a_problem_on_its_line(db, tmp_path, n_students: int) -> None:  # type: ignore[no-untyped-def]
    pkg = _city_sized(tmp_path, n_students)
    users = (pkg / "users.csv").read_text(encoding="utf-8")
    (pkg / "users.csv").write_text(users.replace(",小明,王,", ',"小明,王,'), encoding="utf-8")
    with pytest.raises(RosterImportError) as exc:
        import_oneroster(db, pkg)
    db.rollback()
    (problem,) = exc.value.problems  # no follow-on noise from the rows the quote swallowed
    assert (problem.file, problem.line) == ("users.csv", 2)
    assert 'is a double quote (") not closed?' in problem.message
    assert db.query(Student).count() == 0


def test_a_quote_closed_rows_later_is_caught_too(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkg = _broken(tmp_path, "users.csv", ",小明,王,", ',"小明,王,')
    pkg = _broken(tmp_path, "users.csv", ",志豪,林,", ',志豪",林,')  # the quote from line 2 closes on line 4
    with pytest.raises(RosterImportError) as exc:
        import_oneroster(db, pkg)
    (problem,) = exc.value.problems
    assert (problem.file, problem.line, problem.sourced_id) == ("users.csv", 2, "u-s-001")
    assert "runs from line 2 to line 4" in problem.message


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("classes.csv", ",05,,501,", ",²,,501,", "classes.csv line 2: cl-hp-501: grades must start with a grade 01-12"),
        ("users.csv", ",or-es-hp,,1\nu-s-002", ",or-es-hp,,²\nu-s-002",
         "users.csv line 2: u-s-001: metadata.seatNumber must be a whole number 1-999"),
        ("users.csv", ",or-es-hp,,1\nu-s-002", ",or-es-hp,," + "9" * 5000 + "\nu-s-002",
         "users.csv line 2: u-s-001: metadata.seatNumber must be a whole number 1-999"),
    ],
    ids=["superscript grade", "superscript seat", "5000-digit seat"],
)
def test_non_ascii_or_huge_numbers_are_problems(db, tmp_path, file: str, old: str, new: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RosterImportError) as exc:
        import_oneroster(db, _broken(tmp_path, file, old, new))
    (problem,) = exc.value.problems
    assert str(problem).startswith(expected)


def test_two_students_with_one_seat_in_a_class_are_refused(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkg = _broken(tmp_path, "users.csv", ",or-es-hp,,3\nu-s-004", ",or-es-hp,,1\nu-s-004")  # u-s-003 gets seat 1
    with pytest.raises(RosterImportError) as exc:
        import_oneroster(db, pkg)
    (problem,) = exc.value.problems
    assert (problem.file, problem.line, problem.sourced_id) == ("users.csv", 4, "u-s-003")
    assert problem.message.startswith("seat number 1 in class 'cl-hp-501' is given to 2 students: "
                                      "u-s-001 (users.csv line 2), u-s-003 (users.csv line 4)")
    assert db.query(Student).count() == 0


def test_a_new_student_cannot_take_the_seat_of_one_already_stored(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_oneroster(db, FIXTURE)
    db.commit()
    pkg = tmp_path / "newcomer"
    pkg.mkdir()
    for name in ("orgs.csv", "academicSessions.csv", "classes.csv"):
        shutil.copy(FIXTURE / name, pkg / name)
    header = (FIXTURE / "users.csv").read_text(encoding="utf-8").splitlines()[0]
    (pkg / "users.csv").write_text(header + "\nu-s-050,active,2024-08-01T00:00:00Z,true,s050,,新生,周,,S050,,,,,05,,,,,,,"
                                   "or-es-hp,,2\n", encoding="utf-8")
    enroll = (FIXTURE / "enrollments.csv").read_text(encoding="utf-8").splitlines()[0]
    (pkg / "enrollments.csv").write_text(enroll + "\ne-050,active,2024-08-01T00:00:00Z,cl-hp-501,or-es-hp,u-s-050,"
                                         "student,true,2024-08-30,\n", encoding="utf-8")
    with pytest.raises(RosterImportError) as exc:
        import_oneroster(db, pkg)
    db.rollback()
    (problem,) = exc.value.problems
    assert (problem.file, problem.line, problem.sourced_id) == ("users.csv", 2, "u-s-050")
    assert "u-s-050 (users.csv line 2), u-s-002 (already in the database)" in problem.message
    # once u-s-002 is marked tobedeleted (has left), the newcomer may take that seat
    left = next(line for line in (FIXTURE / "users.csv").read_text(encoding="utf-8").splitlines()
                if line.startswith("u-s-002,")).replace(",active,", ",tobedeleted,")
    with (pkg / "users.csv").open("a", encoding="utf-8") as f:
        f.write(left + "\n")
    report = import_oneroster(db, pkg)
    assert (report.created["students"], report.skipped_deleted) == (1, 1)


def _package_with(tmp_path, old: str, new: str, file: str = "users.csv"):  # type: ignore[no-untyped-def]
    pkg = tmp_path / "pkg"
    shutil.copytree(FIXTURE, pkg)
    text = (pkg / file).read_text(encoding="utf-8")
    assert old in text
    (pkg / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return pkg


def _line_of(pkg, file: str, needle: str) -> int:  # type: ignore[no-untyped-def]
    lines = (pkg / file).read_text(encoding="utf-8").split("\n")
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


@pytest.mark.parametrize(("file", "old", "new", "field", "char"), [
    ("users.csv", ",小明,王,", ",小\x00明,王,", "givenName", "U+0000 (NULL)"),
    ("users.csv", ",S002,", ",S0\x0702,", "identifier", "U+0007"),
    ("orgs.csv", ",中正區,", ",中正\x1b區,", "name", "U+001B"),
    ("classes.csv", "cl-hp-501,active", "cl-hp-\x00501,active", "sourcedId", "U+0000 (NULL)"),
])
def test_control_characters_are_named_by_file_line_and_field(db, tmp_path, file, old, new, field, char) -> None:  # type: ignore[no-untyped-def]
    """Issue 8.7: PostgreSQL cannot store NUL; the import used to end in a traceback."""
    pkg = _package_with(tmp_path, old, new, file)
    line = _line_of(pkg, file, new.split(",")[1] if file != "classes.csv" else "cl-hp-")
    with pytest.raises(RosterImportError) as info:
        import_oneroster(db, pkg)
    text = str(info.value)
    assert f"{file} line {line}: " in text and f"field {field} holds the control character {char}" in text
    assert "\x00" not in text and "\x1b" not in text  # the message itself is printable
    db.rollback()
    assert db.query(Student).count() == 0 and db.query(District).count() == 0


@pytest.mark.parametrize(("name", "char"), [
    ("\u202e明小", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("小\u2066明", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("小明\u200f", "U+200F (RIGHT-TO-LEFT MARK)"),
    ("小\u061c明", "U+061C (ARABIC LETTER MARK)"),
    ("小\u200b明", "U+200B (ZERO WIDTH SPACE)"),
    ("小\u200d明", "U+200D (ZERO WIDTH JOINER)"),
    ("小\u2060明", "U+2060 (WORD JOINER)"),
    ("小\ufeff明", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
])
def test_bidi_and_zero_width_characters_in_names_are_refused(db, tmp_path, name, char) -> None:  # type: ignore[no-untyped-def]
    """Issue 8.10: a name with U+202E showed reversed in the live view; such names are refused, not stripped."""
    pkg = _package_with(tmp_path, ",小明,王,", f",{name},王,")
    with pytest.raises(RosterImportError) as info:
        import_oneroster(db, pkg)
    text = str(info.value)
    assert f"users.csv line 2: u-s-001: field givenName holds the invisible character {char}" in text
    db.rollback()
    assert db.query(Student).count() == 0


def test_names_are_stored_in_nfc(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 8.10: a decomposed name (e + U+0301) is stored composed, so equal names compare equal."""
    pkg = _package_with(tmp_path, ",小明,王,", ",Ame\u0301lie,Tsai,")
    classes = (pkg / "classes.csv").read_text(encoding="utf-8").replace("五年1班", "Cafe\u0301 5-1", 1)
    (pkg / "classes.csv").write_text(classes, encoding="utf-8")
    import_oneroster(db, pkg)
    db.commit()
    student = db.query(Student).filter_by(source_id="u-s-001").one()
    assert student.given_name == "Am\u00e9lie" and student.school_class.name == "Caf\u00e9 5-1"


def test_school_tags_come_from_metadata_tags_and_bad_tags_are_named(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "pkg"
    shutil.copytree(FIXTURE, pkg)
    lines = (pkg / "orgs.csv").read_text(encoding="utf-8").splitlines()
    lines[0] += ",metadata.tags"
    lines[1:] = [ln + (",technology-centre;remote" if "or-es-hp" in ln.split(",")[0] else ",") for ln in lines[1:]]
    (pkg / "orgs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_oneroster(db, pkg)
    db.commit()
    schools = {s.source_id: s for s in db.query(School)}
    assert schools["or-es-hp"].tags == ["remote", "technology-centre"] and schools["or-jh-zb"].tags == []
    (pkg / "orgs.csv").write_text((pkg / "orgs.csv").read_text(encoding="utf-8").replace("remote", "Remote School"),
                                  encoding="utf-8")
    with pytest.raises(RosterImportError, match=r"orgs.csv line \d+: or-es-hp: metadata.tags: 'Remote School'"):
        import_oneroster(db, pkg)
