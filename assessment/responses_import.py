"""`ctcensus responses import`: item scores collected another way (paper fallback, another platform).

File: CSV (UTF-8), header `student,<item id>,...`; `student` is the roster's
student sourcedId, each cell the item score 0..max score, empty = not
presented. One transaction: every problem is named by line and column and
nothing is stored unless the whole file is right. Each row becomes a
submitted attempt marked `source="import"` in a closed session of the
student's class; a student who already has an attempt in the window is
refused unless `replace`, which marks the old attempt `replaced` (kept, never
scored) so earlier scoring runs stay as they were. An unused ticket (an
attempt never started) is marked replaced too, so the student cannot also
sit the test online.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .answers import insert_answers
from .db import utcnow
from .errors import InvalidInput
from .forms import form_items, freeze_form, get_form
from .models import Attempt, SchoolClass, Student, TestSession
from .sessions import unique_tickets
from .states import AttemptSource, AttemptStatus, SessionStatus, SubmitReason
from .windows import get_window

__all__ = ["ImportReport", "ResponsesImportError", "import_responses"]

MAX_PROBLEMS_SHOWN = 60


class ResponsesImportError(InvalidInput):
    """The file has problems; nothing was imported."""

    code = "responses_invalid"

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        text = f"{path}: responses import failed, nothing was imported ({len(problems)} problems):\n" + "\n".join(shown)
        if more > 0:
            text += f"\n... and {more} more"
        super().__init__(text)


@dataclass(frozen=True)
class ImportReport:
    """What an import stored."""

    attempts: int
    answers: int
    replaced: int
    sessions: int


def _read(path: Path) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
    try:
        return list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise InvalidInput(f"{path}: is not valid CSV ({exc})") from None


def import_responses(
    session: Session,
    path: Path,
    *,
    window_code: str,
    form_id: int,
    replace: bool = False,
    actor: str = "system",
) -> ImportReport:
    """Import item scores for one form in one transaction (ResponsesImportError lists every problem)."""
    path = Path(path)
    window = get_window(session, window_code)
    form = get_form(session, form_id)
    rows = _read(path)
    name = path.name
    if not rows or not rows[0]:
        raise ResponsesImportError(name, ["line 1: the file is empty; expected a header student,<item id>,..."])
    header = [h.strip() for h in rows[0]]
    layout = {item.id: (pk, item) for _, pk, item in form_items(session, form)}
    problems: list[str] = []
    if header[0] != "student":
        problems.append(f"line 1, column 1: the first column must be 'student' (the roster sourcedId); found {header[0]!r}")
    seen: set[str] = set()
    for col, item_id in enumerate(header[1:], start=2):
        if item_id not in layout:
            problems.append(f"line 1, column {col}: {item_id!r} is not an item of form {form.code} v{form.version} "
                            f"(its items: {', '.join(sorted(layout))})")
        elif item_id in seen:
            problems.append(f"line 1, column {col}: item {item_id!r} appears twice")
        seen.add(item_id)
    if len(header) < 2:
        problems.append("line 1: no item columns; expected student,<item id>,...")
    if problems:
        raise ResponsesImportError(name, problems)

    keys = [r[0].strip() for r in rows[1:] if r]
    students = {s.source_id: s for s in session.scalars(select(Student).where(Student.source_id.in_(keys)))}
    grades = dict(session.execute(select(SchoolClass.id, SchoolClass.grade)).all())
    prior: dict[int, list[Attempt]] = {}
    if students:
        for attempt in session.scalars(
            select(Attempt).join(TestSession, Attempt.session_id == TestSession.id)
            .where(TestSession.window_id == window.id, Attempt.status.not_in((AttemptStatus.REPLACED,)),
                   Attempt.student_id.in_([s.id for s in students.values()]))
        ):
            prior.setdefault(attempt.student_id, []).append(attempt)

    parsed: list[tuple[Student, list[tuple[int, int]]]] = []
    lines_of: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: has {len(row)} fields but the header has {len(header)}")
            continue
        key = row[0].strip()
        student = students.get(key)
        if student is None:
            problems.append(f"line {line}, column 1 (student): {key!r} is not a student sourcedId in the roster")
            continue
        if key in lines_of:
            problems.append(f"line {line}, column 1 (student): {key!r} already appears on line {lines_of[key]}")
            continue
        lines_of[key] = line
        if grades.get(student.class_id) != form.grade:
            problems.append(f"line {line}, column 1 (student): {key!r} is in grade {grades.get(student.class_id)} "
                            f"but form {form.code} is for grade {form.grade}")
        started = [a for a in prior.get(student.id, []) if a.status != "not_started"]
        if started and not replace:
            problems.append(f"line {line}, column 1 (student): {key!r} already has an attempt in window "
                            f"{window.code}; use --replace to replace it")
        scores: list[tuple[int, int]] = []
        for col, (item_id, cell) in enumerate(zip(header[1:], row[1:], strict=True), start=2):
            text = cell.strip()
            if not text:
                continue
            pk, item = layout[item_id]
            if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= item.max_score:
                problems.append(f"line {line}, column {col} ({item_id}): the score must be a whole number "
                                f"0-{item.max_score} or empty (not presented); found {text!r}")
                continue
            scores.append((pk, int(text)))
        if not scores:
            problems.append(f"line {line}: {key!r} has no item score; leave the student out instead")
        parsed.append((student, scores))
    if not parsed and not problems:
        problems.append("the file has no student rows")
    if problems:
        raise ResponsesImportError(name, problems)

    now = utcnow()
    replaced = 0
    for student, _ in parsed:
        for attempt in prior.get(student.id, []):
            attempt.status = AttemptStatus.REPLACED
            attempt.locked = True
            replaced += 1
    by_class: dict[int, TestSession] = {}
    freeze_form(form)
    tickets = iter(unique_tickets(session, len(parsed)))
    answers = []
    for student, scores in parsed:
        ts = by_class.get(student.class_id)
        if ts is None:
            ts = TestSession(window_id=window.id, class_id=student.class_id, form_id=form.id,
                             time_limit_minutes=form.time_limit_minutes, status=SessionStatus.CLOSED, created_by=actor,
                             closed_at=now)
            session.add(ts)
            session.flush()
            by_class[student.class_id] = ts
        attempt = Attempt(session_id=ts.id, student_id=student.id, ticket=next(tickets), status=AttemptStatus.SUBMITTED,
                          started_at=now, submitted_at=now, submit_reason=SubmitReason.IMPORT, source=AttemptSource.IMPORT,
                          shuffle_seed=0, token_version=0, extra_seconds=0, locked=True)
        session.add(attempt)
        session.flush()
        answers += [{"attempt_id": attempt.id, "item_pk": pk, "seq": 1, "response": {"imported_score": k},
                     "score": k, "answered_at": now, "saved_at": now} for pk, k in scores]
    insert_answers(session, answers)
    audit.record(session, actor, "responses.import", name[:128], window=window.code, form_id=form.id,
                 attempts=len(parsed), answers=len(answers), replaced=replaced)
    return ImportReport(attempts=len(parsed), answers=len(answers), replaced=replaced, sessions=len(by_class))
