"""OneRoster 1.2 CSV import (bulk): orgs, academicSessions, classes, users, enrollments.

Everything is read and checked first; every referential problem is reported
with its file, line and sourcedId, and nothing is stored unless there are none.
The caller's transaction makes the import all-or-nothing; re-importing the
same package changes nothing (records are matched by sourcedId).

Mapping: orgs of type district → District, type school → School (optional
`metadata.tags`: attributes such as technology-centre;remote; its parent
must be a district); classes → SchoolClass (grade from `grades`, e.g. "05");
users with a student role and their one class enrollment → Student (OneRoster
1.1's `role` column, 1.2's roles.csv, or the enrollment role); teachers are
checked but not stored (staff accounts are made with `ctcensus users create`);
academicSessions are checked (classes' termSourcedIds must exist) but not
stored. Optional: demographics.csv (sex → gender) and an extension column
`metadata.seatNumber` in users.csv or enrollments.csv; a seat number is
unique within a class (counting students already stored there). Rows with
status `tobedeleted` are skipped (never deleted from the census record).
Damaged CSV (e.g. an unbalanced double quote) is reported on the line where
the broken record starts. A control character (NUL, ESC, ...) in any field is a
problem; so is a bidirectional control (U+202A-U+202E, U+2066-U+2069, U+200E/F,
U+061C) or a zero-width character (U+200B-U+200D, U+2060, U+FEFF) in a sourcedId
or a name (orgs name, classes title, users givenName/familyName), which could
make it display as something else. They are refused, not stripped, so the
source system gets fixed and what is stored is what it says. Names are stored
NFC-normalised (assessment/text.py holds the one rule for every edge).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .errors import InvalidInput
from .models import District, School, SchoolClass, Student
from .text import control_character, describe_character, spoofing_character

__all__ = ["REQUIRED_FILES", "Problem", "RosterImportError", "RosterReport", "import_oneroster"]

_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
REQUIRED_FILES = ("orgs.csv", "academicSessions.csv", "classes.csv", "users.csv", "enrollments.csv")
OPTIONAL_FILES = ("roles.csv", "demographics.csv", "manifest.csv", "courses.csv")
_COLUMNS = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "type", "startDate", "endDate"),
    "classes.csv": ("sourcedId", "title", "schoolSourcedId", "termSourcedIds"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "userSourcedId", "role"),
    "roles.csv": ("userSourcedId", "role", "orgSourcedId"),
    "demographics.csv": ("sourcedId",),
}
_MAX_FILE_BYTES = 64 * 1024 * 1024
# Shown to people (tickets, the live view): NFC, and no bidi or zero-width characters (issue 8.10).
_NAME_FIELDS = frozenset({"name", "title", "givenName", "familyName"})
_STUDENT_ROLES = {"student"}
_TEACHER_ROLES = {"teacher", "aide", "proctor", "administrator", "principal", "districtadministrator",
                  "siteadministrator", "systemadministrator"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the package, located by file, line and sourcedId."""

    file: str
    line: int
    sourced_id: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.sourced_id + ': ' if self.sourced_id else ''}{self.message}"


class RosterImportError(InvalidInput):
    """The package has problems; nothing was imported."""

    code = "roster_invalid"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        shown = [str(p) for p in self.problems[:60]]
        more = len(self.problems) - len(shown)
        text = f"OneRoster import failed, nothing was imported ({len(self.problems)} problems):\n" + "\n".join(shown)
        if more > 0:
            text += f"\n... and {more} more"
        super().__init__(text)


@dataclass
class RosterReport:
    """What an import created, updated or left alone."""

    created: dict[str, int] = field(default_factory=lambda: {"districts": 0, "schools": 0, "classes": 0, "students": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"districts": 0, "schools": 0, "classes": 0, "students": 0})
    unchanged: dict[str, int] = field(default_factory=lambda: {"districts": 0, "schools": 0, "classes": 0, "students": 0})
    teachers: int = 0
    academic_sessions: int = 0
    skipped_deleted: int = 0

    def describe(self) -> str:
        kinds = ("districts", "schools", "classes", "students")
        parts = [f"{k}: {self.created[k]} new, {self.updated[k]} updated, {self.unchanged[k]} unchanged" for k in kinds]
        return ("OneRoster import: " + "; ".join(parts) + f"; {self.academic_sessions} academic sessions checked; "
                f"{self.teachers} teachers not stored as staff accounts; {self.skipped_deleted} rows marked tobedeleted skipped")


Row = dict[str, str]


class _Package:
    """The CSV files of a package (a zip or a folder), read as rows with their line numbers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.texts: dict[str, str] = {}
        self.unreadable: set[str] = set()  # files whose CSV syntax broke: their rows are incomplete
        if path.is_dir():
            for name in REQUIRED_FILES + OPTIONAL_FILES:
                file = path / name
                if file.is_file():
                    self.texts[name] = _decode(name, file.read_bytes()[: _MAX_FILE_BYTES + 1])
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if base in REQUIRED_FILES + OPTIONAL_FILES and not info.is_dir():
                        if info.file_size > _MAX_FILE_BYTES:
                            raise InvalidInput(f"{base} in {path.name} is larger than {_MAX_FILE_BYTES // 2**20} MB")
                        self.texts[base] = _decode(base, zf.read(info))
        else:
            raise InvalidInput(f"{path} is neither a folder nor a zip file of OneRoster CSV files")

    def rows(self, name: str, problems: list[Problem]) -> list[tuple[int, Row]]:
        """Rows with the line each starts on; CSV damage (e.g. an unbalanced quote) is a Problem, never a crash."""
        text = self.texts.get(name)
        if text is None:
            return []
        # strict: a quoted field still open at the end of the file is an error, not the rest of the file
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        out = []
        start = 1
        try:
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in _COLUMNS.get(name, ()) if c not in header]
            if missing:
                problems.append(Problem(name, 1, "", f"missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"))
                return []
            start = reader.line_num + 1
            for row in reader:
                clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
                spanning = next((k for k, v in clean.items() if "\n" in v or "\r" in v), None)
                if spanning is not None:
                    # no roster field holds a line break: a quote opened here swallowed the lines after it
                    problems.append(Problem(name, start, clean.get("sourcedId", "")[:64],
                                            f"the {spanning} field runs from line {start} to line {reader.line_num}; "
                                            "is a double quote (\") not closed?"))
                    self.unreadable.add(name)
                _check_characters(name, start, clean, problems)
                out.append((start, clean))
                start = reader.line_num + 1
        except csv.Error as exc:
            problems.append(Problem(name, start, "", f"not readable as CSV from this line on ({exc}); "
                                    "is a double quote (\") not closed?"))
            self.unreadable.add(name)
        return out


def _check_characters(file: str, line: int, row: Row, problems: list[Problem]) -> None:
    """Refuse control characters in any field, and bidi or zero-width ones in ids and names; names become NFC.

    Such a row is reported and its characters replaced by U+FFFD in memory, so that follow-on
    messages stay printable (nothing is stored: any problem stops the import).
    """
    for key, value in row.items():
        shown = key in _NAME_FIELDS or key.lower().endswith(("sourcedid", "sourcedids"))
        ch = (spoofing_character if shown else control_character)(value.replace("\n", "").replace("\r", ""))
        if ch is None:
            if key in _NAME_FIELDS:
                row[key] = unicodedata.normalize("NFC", value)
            continue
        if unicodedata.category(ch) == "Cc":
            what = (f"field {key} holds the control character {describe_character(ch)}; roster fields are "
                    "plain text: remove it in the source system and export again")
        else:
            what = (f"field {key} holds the invisible character {describe_character(ch)}, which can make a name "
                    "or id display as something else; remove it in the source system and export again")
        for k, v in row.items():
            row[k] = "".join("\ufffd" if c != "\n" and c != "\r" and spoofing_character(c) else c for c in v)
        problems.append(Problem(file, line, row.get("sourcedId", "")[:64], what))
        return


def _decode(name: str, data: bytes) -> str:
    if len(data) > _MAX_FILE_BYTES:
        raise InvalidInput(f"{name} is larger than {_MAX_FILE_BYTES // 2**20} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None


def _index(name: str, rows: list[tuple[int, Row]], problems: list[Problem], report: RosterReport,
           deleted: set[str] | None = None) -> dict[str, tuple[int, Row]]:
    """Rows by sourcedId, reporting duplicates and empty ids, skipping tobedeleted rows (their ids go to `deleted`)."""
    out: dict[str, tuple[int, Row]] = {}
    for line, row in rows:
        sid = row.get("sourcedId", "")
        if not sid:
            problems.append(Problem(name, line, "", "sourcedId is empty"))
            continue
        if len(sid) > 64:
            problems.append(Problem(name, line, sid[:20] + "…", "sourcedId is longer than 64 characters"))
            continue
        if row.get("status", "").lower() == "tobedeleted":
            report.skipped_deleted += 1
            if deleted is not None:
                deleted.add(sid)
            continue
        if sid in out:
            problems.append(Problem(name, line, sid, f"duplicate sourcedId (first on line {out[sid][0]})"))
            continue
        out[sid] = (line, row)
    return out


def _grade(text: str) -> int | None:
    first = text.replace(";", ",").split(",")[0].strip()
    # ASCII digits only: '²'.isdigit() is true but int('²') fails
    return int(first) if re.fullmatch(r"[0-9]{1,2}", first) and 1 <= int(first) <= 12 else None


def _seat(text: str) -> int | str | None:
    if not text:
        return None
    return int(text) if re.fullmatch(r"[0-9]{1,3}", text) and 0 < int(text) < 1000 else "bad"


def _located(source: tuple[str, int] | None) -> str:
    return f"{source[0]} line {source[1]}" if source else "already in the database"


def _shared_seats(placed: Mapping[str, tuple[str, int | None]], seat_source: Mapping[str, tuple[str, int]],
                  db_students: Mapping[str, Student], db_classes: Mapping[str, SchoolClass],
                  deleted: set[str]) -> list[Problem]:
    """Two students with one seat number in one class (after the import), each located where it was read."""
    holders: dict[tuple[str, int], list[str]] = {}
    for sid, (class_sid, seat) in placed.items():
        if seat is not None:
            holders.setdefault((class_sid, seat), []).append(sid)
    class_sid_of = {c.id: sid for sid, c in db_classes.items()}
    for sid, student in db_students.items():
        # students the package does not mention stay in their class with their seat (tobedeleted ones have left)
        if sid not in placed and sid not in deleted and student.seat_number is not None and student.class_id in class_sid_of:
            holders.setdefault((class_sid_of[student.class_id], student.seat_number), []).append(sid)
    problems = []
    for (class_sid, seat), sids in holders.items():
        if len(sids) < 2:
            continue
        # package rows first, in file order; the problem sits on the second holder (the first clash)
        ordered = sorted(sids, key=lambda s: (s not in seat_source, seat_source.get(s, ("", 0)), s))
        where = ", ".join(f"{s} ({_located(seat_source.get(s))})" for s in ordered)
        at = ordered[1] if ordered[1] in seat_source else ordered[0]
        file, line = seat_source[at]
        problems.append(Problem(file, line, at, f"seat number {seat} in class {class_sid!r} is given to "
                                f"{len(sids)} students: {where}; give each student their own seat"))
    return problems


def import_oneroster(session: Session, path: Path, *, actor: str = "system") -> RosterReport:
    """Check and import a OneRoster 1.2 CSV package in the caller's transaction (RosterImportError if not clean)."""
    package = _Package(Path(path))
    problems: list[Problem] = []
    report = RosterReport()
    for name in REQUIRED_FILES:
        if name not in package.texts:
            problems.append(Problem(name, 0, "", f"required file is missing from {Path(path).name}"))
    if problems:
        raise RosterImportError(problems)

    orgs = _index("orgs.csv", package.rows("orgs.csv", problems), problems, report)
    terms = _index("academicSessions.csv", package.rows("academicSessions.csv", problems), problems, report)
    classes = _index("classes.csv", package.rows("classes.csv", problems), problems, report)
    deleted_users: set[str] = set()
    users = _index("users.csv", package.rows("users.csv", problems), problems, report, deleted_users)
    enrollments = _index("enrollments.csv", package.rows("enrollments.csv", problems), problems, report)
    roles_rows = package.rows("roles.csv", problems)
    demographics = _index("demographics.csv", package.rows("demographics.csv", problems), problems, report)
    if package.unreadable:
        # Rows are missing or merged: checking references now would only add confusing follow-on problems.
        raise RosterImportError(problems)

    db_districts = {d.source_id: d for d in session.scalars(select(District))}
    db_schools = {s.source_id: s for s in session.scalars(select(School))}

    # orgs
    districts: dict[str, Row] = {}
    schools: dict[str, tuple[int, Row]] = {}
    for sid, (line, row) in orgs.items():
        kind = row["type"].lower()
        if kind == "district":
            districts[sid] = row
        elif kind == "school":
            schools[sid] = (line, row)
        if not row["name"]:
            problems.append(Problem("orgs.csv", line, sid, "name is empty"))
    school_tags: dict[str, list[str]] = {}
    for sid, (line, row) in schools.items():
        raw_tags = [t.strip() for t in row.get("metadata.tags", "").split(";") if t.strip()]
        bad_tags = [t for t in raw_tags if not _TAG.match(t)]
        if bad_tags:
            problems.append(Problem("orgs.csv", line, sid, f"metadata.tags: {bad_tags[0]!r} is not a tag (lower-case "
                                    "letters, digits and '-', up to 32; separate tags with ';')"))
        school_tags[sid] = sorted(set(raw_tags))
        parent = row.get("parentSourcedId", "")
        if not parent:
            problems.append(Problem("orgs.csv", line, sid, "school has no parentSourcedId (its district)"))
        elif parent not in districts and parent not in db_districts:
            problems.append(Problem("orgs.csv", line, sid, f"parentSourcedId {parent!r} is not a district org "
                                    "in orgs.csv or the database"))

    # academic sessions
    for sid, (line, row) in terms.items():
        try:
            start, end = date.fromisoformat(row["startDate"]), date.fromisoformat(row["endDate"])
            if end < start:
                problems.append(Problem("academicSessions.csv", line, sid, "endDate is before startDate"))
        except ValueError:
            problems.append(Problem("academicSessions.csv", line, sid, "startDate and endDate must be YYYY-MM-DD"))
        parent = row.get("parentSourcedId", "")
        if parent and parent not in terms:
            problems.append(Problem("academicSessions.csv", line, sid, f"parentSourcedId {parent!r} is not an "
                                    "academic session in academicSessions.csv"))
    report.academic_sessions = len(terms)

    # classes
    class_grade: dict[str, int] = {}
    db_classes = {c.source_id: c for c in session.scalars(select(SchoolClass))}
    for sid, (line, row) in classes.items():
        school = row["schoolSourcedId"]
        if school not in schools and school not in db_schools:
            problems.append(Problem("classes.csv", line, sid, f"schoolSourcedId {school!r} is not a school org in "
                                    "orgs.csv or the database"))
        for term in [t.strip() for t in row["termSourcedIds"].split(",") if t.strip()]:
            if term not in terms:
                problems.append(Problem("classes.csv", line, sid, f"termSourcedIds names {term!r}, which is not in "
                                        "academicSessions.csv"))
        if not row["termSourcedIds"]:
            problems.append(Problem("classes.csv", line, sid, "termSourcedIds is empty"))
        grade = _grade(row.get("grades", ""))
        if grade is None:
            problems.append(Problem("classes.csv", line, sid, f"grades must start with a grade 01-12 (e.g. 05); "
                                    f"found {row.get('grades', '')!r}"))
        else:
            class_grade[sid] = grade
        if not row["title"]:
            problems.append(Problem("classes.csv", line, sid, "title is empty"))

    # roles: users.csv `role` (1.1), roles.csv (1.2), else the enrollment
    user_role: dict[str, str] = {}
    for sid, (_line, row) in users.items():
        if row.get("role"):
            user_role[sid] = row["role"].lower()
    for line, row in roles_rows:
        uid = row["userSourcedId"]
        if uid not in users:
            problems.append(Problem("roles.csv", line, row.get("sourcedId", ""), f"userSourcedId {uid!r} is not in users.csv"))
            continue
        if row.get("roleType", "primary").lower() in ("primary", ""):
            user_role.setdefault(uid, row["role"].lower())

    db_students = {s.source_id: s for s in session.scalars(select(Student))}
    student_class: dict[str, list[tuple[int, str, bool, str]]] = {}
    for sid, (line, row) in enrollments.items():
        cls = row["classSourcedId"]
        uid = row["userSourcedId"]
        role = row["role"].lower()
        if cls not in classes and cls not in db_classes:
            problems.append(Problem("enrollments.csv", line, sid, f"classSourcedId {cls!r} is not in classes.csv "
                                    "or the database"))
        if uid not in users and uid not in db_students:
            problems.append(Problem("enrollments.csv", line, sid, f"userSourcedId {uid!r} is not in users.csv "
                                    "or the database"))
        school = row.get("schoolSourcedId", "")
        if school and cls in classes and classes[cls][1]["schoolSourcedId"] != school:
            problems.append(Problem("enrollments.csv", line, sid, f"schoolSourcedId {school!r} is not the school "
                                    f"of class {cls!r}"))
        if role in _STUDENT_ROLES:
            student_class.setdefault(uid, []).append(
                (line, cls, row.get("primary", "").lower() == "true", row.get("metadata.seatNumber", "")))
            user_role.setdefault(uid, "student")
        elif role in _TEACHER_ROLES:
            user_role.setdefault(uid, "teacher")
        else:
            problems.append(Problem("enrollments.csv", line, sid, f"role {role!r} is not a OneRoster enrollment role"))

    # users → students
    placed: dict[str, tuple[str, int | None]] = {}
    seat_source: dict[str, tuple[str, int]] = {}  # (file, line) each placed student's seat number was read from
    for sid, (line, row) in users.items():
        role = user_role.get(sid, "")
        if role in _TEACHER_ROLES:
            report.teachers += 1
            continue
        if role not in _STUDENT_ROLES:
            problems.append(Problem("users.csv", line, sid, "user has no role (users.csv role, roles.csv or an "
                                    "enrollment)"))
            continue
        if not row["givenName"] and not row["familyName"]:
            problems.append(Problem("users.csv", line, sid, "student has neither givenName nor familyName"))
        if len(row["givenName"]) > 64 or len(row["familyName"]) > 64:
            problems.append(Problem("users.csv", line, sid, "names must be at most 64 characters"))
        enrolled = student_class.get(sid, [])
        if not enrolled:
            problems.append(Problem("users.csv", line, sid, "student has no class enrollment in enrollments.csv"))
            continue
        primary = [e for e in enrolled if e[2]] if len(enrolled) > 1 else enrolled
        if len(primary) != 1:
            lines = ", ".join(str(e[0]) for e in enrolled)
            problems.append(Problem("users.csv", line, sid, f"student is enrolled in {len(enrolled)} classes "
                                    f"(enrollments.csv lines {lines}); mark exactly one primary=true"))
            continue
        seat = _seat(row.get("metadata.seatNumber", "") or primary[0][3])
        if seat == "bad":
            problems.append(Problem("users.csv", line, sid, "metadata.seatNumber must be a whole number 1-999"))
            continue
        placed[sid] = (primary[0][1], seat if isinstance(seat, int) else None)
        seat_source[sid] = ("users.csv", line) if row.get("metadata.seatNumber", "") else ("enrollments.csv", primary[0][0])
    for uid, enrolled in student_class.items():
        if uid not in users and uid in db_students and len(enrolled) == 1:
            placed[uid] = (enrolled[0][1], db_students[uid].seat_number)
            seat_source[uid] = ("enrollments.csv", enrolled[0][0])
    problems.extend(_shared_seats(placed, seat_source, db_students, db_classes, deleted_users))

    if problems:
        raise RosterImportError(problems)

    # --- apply -------------------------------------------------------------------
    def upsert(kind: str, obj: object | None, values: Mapping[str, object], make: type) -> object:
        if obj is None:
            obj = make(**values)
            session.add(obj)
            report.created[kind] += 1
            return obj
        changed = False
        for key, value in values.items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
                changed = True
        (report.updated if changed else report.unchanged)[kind] += 1
        return obj

    for sid, row in districts.items():
        db_districts[sid] = upsert("districts", db_districts.get(sid), {"source_id": sid, "name_zh": row["name"][:64]},
                                   District)  # type: ignore[assignment]
    session.flush()
    grades_by_school: dict[str, set[int]] = {}
    for sid, (_line, row) in classes.items():
        grades_by_school.setdefault(row["schoolSourcedId"], set()).add(class_grade[sid])
    for sid, (_line, row) in schools.items():
        grades = grades_by_school.get(sid, set())
        existing = db_schools.get(sid)
        level = ("junior_high" if grades and min(grades) >= 7 else "elementary" if grades
                 else (existing.level if existing else "elementary"))
        school_values: dict[str, object] = {"source_id": sid, "name_zh": row["name"][:128], "level": level,
                                            "district_id": db_districts[row["parentSourcedId"]].id}
        if "metadata.tags" in row:  # a package without the column keeps the tags a school has
            school_values["tags"] = school_tags[sid]
        db_schools[sid] = upsert("schools", existing, school_values, School)  # type: ignore[assignment]
    session.flush()
    for sid, (_line, row) in classes.items():
        db_classes[sid] = upsert("classes", db_classes.get(sid), {
            "source_id": sid, "name": row["title"][:64], "grade": class_grade[sid],
            "school_id": db_schools[row["schoolSourcedId"]].id}, SchoolClass)  # type: ignore[assignment]
    session.flush()
    genders = {"female": "F", "male": "M", "other": "X", "unspecified": ""}
    for sid, (class_sid, seat) in placed.items():
        student = db_students.get(sid)
        values: dict[str, object] = {"source_id": sid, "class_id": db_classes[class_sid].id, "seat_number": seat}
        if sid in users:
            row = users[sid][1]
            values.update(family_name=row["familyName"], given_name=row["givenName"])
        if sid in demographics:
            values["gender"] = genders.get(demographics[sid][1].get("sex", "").lower(), "")
        elif student is None:
            values["gender"] = ""
        upsert("students", student, values, Student)
    session.flush()
    audit.record(session, actor, "roster.import", Path(path).name[:128], created=report.created,
                 updated=report.updated, teachers=report.teachers, skipped_deleted=report.skipped_deleted)
    return report
