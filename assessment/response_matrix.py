"""A window's finished attempts as a (students x items) score matrix with the missing-data codes.

Missing-data rules (docs/results.md):
- not presented: the item was not on the student's form (or, for imported
  scores, its cell was empty) -> NaN, for calibration and for scoring;
- omitted: no answer (or a cleared one) to an item *before* the last item the
  student answered, in the form's order -> scored 0;
- not reached: no answer to any item *after* the last answered one -> NaN for
  calibration, and for scoring what the reporting configuration says
  (`not_reached: zero` by default, as TIMSS does: a timed test's unanswered end counts as wrong).
Attempts with no answer at all are left out (absent in effect) and counted; a student
with several finished attempts in the window counts once, with the latest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Answer, Attempt, FormItem, ItemRecord, School, SchoolClass, Student, TestSession, TestWindow

__all__ = ["ANSWERED", "FINISHED", "NOT_PRESENTED", "NOT_REACHED", "OMITTED", "ResponseMatrix", "load_response_matrix"]

ANSWERED, OMITTED, NOT_REACHED, NOT_PRESENTED = 0, 1, 2, 3
FINISHED = ("submitted",)  # timed-out attempts are submitted with reason "deadline"


@dataclass(frozen=True)
class ResponseMatrix:
    """Finished attempts of a window (rows) by the item versions on their forms (columns).

    `scores` holds the stored item score where answered, 0 where omitted and NaN
    elsewhere; `status` holds one of ANSWERED, OMITTED, NOT_REACHED, NOT_PRESENTED.
    """

    attempt_ids: NDArray[np.int64]
    student_ids: NDArray[np.int64]
    student_keys: tuple[str, ...]
    class_ids: NDArray[np.int64]
    school_ids: NDArray[np.int64]
    district_ids: NDArray[np.int64]
    grades: NDArray[np.int64]
    genders: NDArray[np.str_]
    imported: NDArray[np.bool_]
    item_pks: NDArray[np.int64]
    item_ids: tuple[str, ...]
    item_dimensions: tuple[str, ...]
    item_max: NDArray[np.int64]
    scores: NDArray[np.float64]
    status: NDArray[np.int8]
    n_without_answers: int
    form_ids: NDArray[np.int64]  # the form each row's attempt sat

    @property
    def n_students(self) -> int:
        return int(self.attempt_ids.shape[0])

    def for_scoring(self, not_reached: str = "zero") -> NDArray[np.float64]:
        """Scores with not-reached items as 0 (`zero`) or NaN (`missing`)."""
        if not_reached == "missing":
            return self.scores
        return np.where(self.status == NOT_REACHED, 0.0, self.scores)

    def for_calibration(self) -> NDArray[np.float64]:
        """Scores with not-reached items as NaN (never 0: they say nothing about the item)."""
        return self.scores


def load_response_matrix(session: Session, window: TestWindow) -> ResponseMatrix:
    """Read every finished attempt of the window with its answers, in a few set-based queries."""
    rows = session.execute(
        select(Attempt.id, Attempt.student_id, Student.source_id, Student.class_id, SchoolClass.school_id,
               School.district_id, SchoolClass.grade, Student.gender, Attempt.source, TestSession.form_id)
        .join(TestSession, Attempt.session_id == TestSession.id)
        .join(Student, Attempt.student_id == Student.id)
        .join(SchoolClass, Student.class_id == SchoolClass.id)
        .join(School, SchoolClass.school_id == School.id)
        .where(TestSession.window_id == window.id, Attempt.status.in_(FINISHED))
        .order_by(Attempt.id)
    ).all()
    form_ids = sorted({r.form_id for r in rows})
    layout = session.execute(
        select(FormItem.form_id, FormItem.position, ItemRecord.pk, ItemRecord.item_id, ItemRecord.version,
               ItemRecord.dimension, ItemRecord.max_score)
        .join(ItemRecord, FormItem.item_pk == ItemRecord.pk)
        .where(FormItem.form_id.in_(form_ids))
        .order_by(ItemRecord.item_id, ItemRecord.version)
    ).all() if form_ids else []
    pks: dict[int, int] = {}
    meta: list[tuple[str, int, str, int]] = []
    for r in layout:
        if r.pk not in pks:
            pks[r.pk] = len(pks)
            meta.append((r.item_id, r.version, r.dimension, r.max_score))
    names = [m[0] for m in meta]
    ids = tuple(f"{m[0]}-v{m[1]}" if names.count(m[0]) > 1 else m[0] for m in meta)
    n, J = len(rows), len(pks)
    row_of = {r.id: i for i, r in enumerate(rows)}
    form_of = np.array([r.form_id for r in rows], dtype=np.int64)
    # position of each column on each form (0 = not on the form)
    form_index = {f: k for k, f in enumerate(form_ids)}
    position = np.zeros((len(form_ids), J), dtype=np.int64)
    for lr in layout:
        position[form_index[lr.form_id], pks[lr.pk]] = lr.position
    pos = position[np.array([form_index[f] for f in form_of], dtype=np.int64)] if n else np.zeros((0, J), np.int64)

    scores = np.full((n, J), np.nan)
    answered = np.zeros((n, J), dtype=bool)
    if n:
        for chunk in _chunks([r.id for r in rows], 2000):
            for a in session.execute(
                select(Answer.attempt_id, Answer.item_pk, Answer.score, Answer.response.is_not(None).label("given"))
                .where(Answer.attempt_id.in_(chunk))
            ):
                j = pks.get(a.item_pk)
                if j is None:
                    continue
                i = row_of[a.attempt_id]
                if a.given and a.score is not None:
                    scores[i, j] = a.score
                    answered[i, j] = True
    imported = np.array([r.source == "import" for r in rows], dtype=bool)
    on_form = pos > 0
    last = np.where(answered, pos, 0).max(axis=1) if J else np.zeros(n, dtype=np.int64)
    status = np.full((n, J), NOT_PRESENTED, dtype=np.int8)
    status[on_form & (pos > last[:, None])] = NOT_REACHED
    status[on_form & (pos < last[:, None]) & ~answered] = OMITTED
    status[answered] = ANSWERED
    # imported scores carry their own coding: an empty cell was not presented
    status[imported[:, None] & ~answered] = NOT_PRESENTED
    scores[status == OMITTED] = 0.0
    keep: NDArray[np.bool_] = np.asarray(answered.any(axis=1), dtype=bool)
    # a student with two finished attempts in the window (a class sat twice) counts once: the latest
    latest: dict[int, int] = {}
    for i, row in enumerate(rows):
        if keep[i]:
            latest[row.student_id] = i
    keep &= np.isin(np.arange(n), list(latest.values()))
    return ResponseMatrix(
        attempt_ids=np.array([r.id for r in rows], dtype=np.int64)[keep],
        student_ids=np.array([r.student_id for r in rows], dtype=np.int64)[keep],
        student_keys=tuple(r.source_id for r, k in zip(rows, keep, strict=True) if k),
        class_ids=np.array([r.class_id for r in rows], dtype=np.int64)[keep],
        school_ids=np.array([r.school_id for r in rows], dtype=np.int64)[keep],
        district_ids=np.array([r.district_id for r in rows], dtype=np.int64)[keep],
        grades=np.array([r.grade for r in rows], dtype=np.int64)[keep],
        genders=np.array([r.gender or "" for r in rows], dtype=str)[keep] if n else np.array([], dtype=str),
        imported=imported[keep],
        item_pks=np.array(list(pks), dtype=np.int64),
        item_ids=ids,
        item_dimensions=tuple(m[2] for m in meta),
        item_max=np.array([m[3] for m in meta], dtype=np.int64),
        scores=scores[keep],
        status=status[keep],
        n_without_answers=int((~keep).sum()),
        form_ids=form_of[keep],
    )


def _chunks(values: list[int], size: int) -> list[list[int]]:
    return [values[k:k + size] for k in range(0, len(values), size)]
