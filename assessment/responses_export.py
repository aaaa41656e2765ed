"""`ctcensus responses export`: a window's item scores for researchers and other platforms, pseudonymous.

Rows are the response matrix's (docs/results.md): one per student, their latest
finished attempt with an answer. Students and schools appear as the stable
pseudonyms of the researchers' results exports (an HMAC of the roster id under
the server's SECRET_KEY: the same in every export, not reversible without the key).

- CSV in the format ``ctcensus calibrate`` reads: ``student,grade,school,gender,<item>...``;
  each item cell is the score, empty = not presented or not reached (the
  calibration coding; ``not_reached="zero"`` gives the scoring run's coding),
  0 = omitted. ``ctcensus calibrate FILE --model auto --group-column grade
  --skip-column school --skip-column gender`` calibrates it exactly as
  :func:`scoring.calibrate` calibrates :meth:`ResponseSelection.cells` in the app.
- QTI 3.0 Results Reporting: a zip of one ``assessmentResult`` document per attempt.
"""
from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.qti_results import (
    AttemptResult,
    ItemResult,
    assessment_result_xml,
    candidate_response,
    qti_item_identifier,
)

from . import audit
from .access import pseudonym
from .errors import InvalidInput
from .forms import get_form
from .item_store import item_from_record
from .models import Answer, Attempt, Form, FormItem, ItemRecord, School, SchoolClass, TestSession
from .response_matrix import NOT_PRESENTED, NOT_REACHED, load_response_matrix
from .results_export import csv_cell
from .windows import get_window

__all__ = ["FORMATS", "ResponseSelection", "audit_responses_export", "select_responses", "write_qti_results",
           "write_responses_csv"]

FORMATS = ("csv", "qti-results")
NOT_REACHED_CODINGS = ("missing", "zero")
_CHUNK = 2000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ResponseSelection:
    """The rows (students) and item columns of one export, with the pseudonyms it prints."""

    window_code: str
    form_id: int | None
    grade: int | None
    attempt_ids: NDArray[np.int64]
    attempts: tuple[str, ...]  # pseudonyms of the attempts (QTI session identifiers)
    students: tuple[str, ...]  # pseudonyms
    schools: tuple[str, ...]  # pseudonyms
    grades: NDArray[np.int64]
    genders: tuple[str, ...]
    form_ids: NDArray[np.int64]
    imported: NDArray[np.bool_]
    item_pks: NDArray[np.int64]
    item_ids: tuple[str, ...]
    item_max: NDArray[np.int64]
    scores: NDArray[np.float64]  # calibration coding: NaN = not presented / not reached, 0 = omitted
    status: NDArray[np.int8]

    @property
    def n_rows(self) -> int:
        return int(self.attempt_ids.shape[0])

    def cells(self, not_reached: str = "missing") -> NDArray[np.float64]:
        """Scores with not-reached items missing (calibration) or 0 (`zero`, as the scoring run counts them)."""
        if not_reached not in NOT_REACHED_CODINGS:
            raise InvalidInput(f"not_reached must be one of {', '.join(NOT_REACHED_CODINGS)}; got {not_reached!r}")
        return np.where(self.status == NOT_REACHED, 0.0, self.scores) if not_reached == "zero" else self.scores


def _window_choices(session: Session, window_id: int) -> tuple[list[int], dict[int, str]]:
    """The grades and forms (id -> code) sat in the window."""
    rows = session.execute(
        select(SchoolClass.grade, Form.id, Form.code, Form.version)
        .select_from(TestSession)
        .join(SchoolClass, TestSession.class_id == SchoolClass.id)
        .join(Form, TestSession.form_id == Form.id)
        .where(TestSession.window_id == window_id).distinct()
    ).all()
    return sorted({r.grade for r in rows}), {r.id: f"{r.code} v{r.version}" for r in rows}


def select_responses(
    session: Session, window_code: str, *, secret_key: str, form_id: int | None = None, grade: int | None = None
) -> ResponseSelection:
    """The window's finished attempts (of one form and/or grade), checked; InvalidInput/NotFound say what is wrong."""
    window = get_window(session, window_code)
    grades, forms = _window_choices(session, window.id)
    if grade is not None and grade not in grades:
        raise InvalidInput(f"window {window.code} has no grade {grade} sessions; its grades: "
                           f"{', '.join(map(str, grades)) or 'none yet'}")
    if form_id is not None:
        form = get_form(session, form_id)
        if form_id not in forms:
            known = ", ".join(f"{k} ({v})" for k, v in sorted(forms.items())) or "none yet"
            raise InvalidInput(f"form {form_id} ({form.code} v{form.version}) was not sat in window {window.code}; "
                               f"its forms: {known}")
        if grade is not None and form.grade != grade:
            raise InvalidInput(f"form {form_id} ({form.code}) is a grade {form.grade} form, not grade {grade}")
    matrix = load_response_matrix(session, window)
    keep = np.ones(matrix.n_students, dtype=bool)
    if grade is not None:
        keep &= matrix.grades == grade
    if form_id is not None:
        keep &= matrix.form_ids == form_id
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        which = " and ".join(w for w in (f"grade {grade}" if grade is not None else "",
                                         f"form {form_id}" if form_id is not None else "") if w)
        raise InvalidInput(f"window {window.code} has no finished attempt with an answer"
                           f"{' for ' + which if which else ''} yet; nothing to export")
    scores = matrix.for_calibration()[rows]
    columns = np.flatnonzero(~np.isnan(scores).all(axis=0))  # items nobody in the selection has a score for
    schools = dict(session.execute(select(School.id, School.source_id)
                                   .where(School.id.in_(set(matrix.school_ids[rows].tolist())))).all())
    return ResponseSelection(
        window_code=window.code, form_id=form_id, grade=grade,
        attempt_ids=matrix.attempt_ids[rows],
        attempts=tuple(pseudonym(secret_key, "attempt", str(a)) for a in matrix.attempt_ids[rows].tolist()),
        students=tuple(pseudonym(secret_key, "student", matrix.student_keys[i]) for i in rows.tolist()),
        schools=tuple(pseudonym(secret_key, "school", schools[s]) for s in matrix.school_ids[rows].tolist()),
        grades=matrix.grades[rows], genders=tuple(matrix.genders[rows].tolist()), form_ids=matrix.form_ids[rows],
        imported=matrix.imported[rows], item_pks=matrix.item_pks[columns],
        item_ids=tuple(matrix.item_ids[j] for j in columns.tolist()), item_max=matrix.item_max[columns],
        scores=scores[:, columns], status=matrix.status[np.ix_(rows, columns)],
    )


def write_responses_csv(
    selection: ResponseSelection, out: IO[str], *, not_reached: str = "missing", progress: Progress | None = None
) -> int:
    """Write the CSV `ctcensus calibrate` reads; returns the number of rows."""
    cells = selection.cells(not_reached)
    text = np.where(np.isnan(cells), "", np.nan_to_num(cells).astype(np.int64).astype(str))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "grade", "school", "gender", *selection.item_ids])
    for i in range(selection.n_rows):
        writer.writerow([selection.students[i], int(selection.grades[i]), selection.schools[i],
                         csv_cell(selection.genders[i]), *text[i].tolist()])
        if progress is not None and (i + 1) % _CHUNK == 0:
            progress(_CHUNK)
    if progress is not None:
        progress(selection.n_rows % _CHUNK)
    return selection.n_rows


def write_qti_results(
    session: Session, selection: ResponseSelection, out: Path | IO[bytes], *, progress: Progress | None = None
) -> int:
    """Write a zip of QTI 3.0 ``assessmentResult`` documents, one per attempt; returns their number."""
    records = {r.pk: r for r in session.scalars(select(ItemRecord).where(ItemRecord.pk.in_(selection.item_pks.tolist())))}
    items = {pk: item_from_record(r) for pk, r in records.items()}
    names = {pk: qti_item_identifier(r.item_id, r.version) for pk, r in records.items()}
    form_ids = sorted(set(selection.form_ids.tolist()))
    forms = {f.id: f"{f.code}-v{f.version}" for f in session.scalars(select(Form).where(Form.id.in_(form_ids)))}
    positions = {(f, pk): p for f, pk, p in session.execute(
        select(FormItem.form_id, FormItem.item_pk, FormItem.position).where(FormItem.form_id.in_(form_ids)))}
    pks = selection.item_pks.tolist()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for start in range(0, selection.n_rows, _CHUNK):
            chunk = range(start, min(start + _CHUNK, selection.n_rows))
            ids = [int(selection.attempt_ids[i]) for i in chunk]
            times = {a.id: a.submitted_at or a.started_at for a in session.execute(
                select(Attempt.id, Attempt.submitted_at, Attempt.started_at).where(Attempt.id.in_(ids)))}
            answers: dict[tuple[int, int], Any] = {(a.attempt_id, a.item_pk): a for a in session.execute(
                select(Answer.attempt_id, Answer.item_pk, Answer.response, Answer.answered_at)
                .where(Answer.attempt_id.in_(ids)))}
            for i in chunk:
                attempt, form = int(selection.attempt_ids[i]), int(selection.form_ids[i])
                results = []
                for j, pk in enumerate(pks):
                    if selection.status[i, j] == NOT_PRESENTED:
                        continue
                    answer = answers.get((attempt, pk))
                    score = selection.scores[i, j]
                    results.append(ItemResult(
                        identifier=names[pk], sequence_index=positions.get((form, pk)),
                        datestamp=answer.answered_at if answer is not None else times[attempt],
                        # imported scores come without the response that earned them
                        response=None if selection.imported[i] else candidate_response(
                            items[pk], answer.response if answer is not None else None),
                        score=None if np.isnan(score) else float(score), max_score=int(selection.item_max[j])))
                results.sort(key=lambda r: (r.sequence_index or 0, r.identifier))
                document = AttemptResult(
                    sourced_id=selection.students[i], session_source=f"urn:ctcensus:window:{selection.window_code}",
                    session_identifier=selection.attempts[i], test_identifier=forms[form], datestamp=times[attempt],
                    context={"GRADE": ("integer", str(int(selection.grades[i]))),
                             "SCHOOL": ("identifier", selection.schools[i]),
                             "GENDER": ("string", selection.genders[i])},
                    items=results)
                archive.writestr(f"assessmentResult-{selection.students[i]}.xml", assessment_result_xml(document))
            if progress is not None:
                progress(len(chunk))
    return selection.n_rows


def audit_responses_export(
    session: Session, actor: str, selection: ResponseSelection, fmt: str, target: str, *, not_reached: str = "missing"
) -> None:
    """Every responses export is audited: who took which window's rows, in which format."""
    audit.record(session, actor, "responses.export", target[:128], window=selection.window_code,
                 form_id=selection.form_id, grade=selection.grade, format=fmt, not_reached=not_reached,
                 rows=selection.n_rows, items=len(selection.item_ids))
