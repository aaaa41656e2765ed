"""The item-analysis report of a calibration run (issue 11.3) on a simulated census with known faults.

The demo city's machinery sits the test (`simulate_census`: online answers scored by each item's own key,
absences, omissions, unfinished attempts) from the provisional set's parameters; then one grade-5 item's
answers are redrawn from a curve no IRT model has (it misfits), one grade-8 item is made 1.3 logits harder
for girls (gender DIF), and the previous year's published set holds one anchor 1 logit easier than this
year's truth (drift). Each must be flagged for its fault, and the clean items not at all.
"""
from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.calibration_runs import RunRequest, execute_run, start_run
from assessment.census_simulation import CensusDesign, simulate_census
from assessment.db import make_session_factory, utcnow
from assessment.errors import Conflict, NotFound
from assessment.item_analysis import FIT_MS_RANGE, ItemAnalysis, analyse_run
from assessment.item_store import item_from_record
from assessment.models import (
    Answer,
    Attempt,
    ItemParameterRecord,
    ItemRecord,
    ParameterSet,
    Student,
)
from assessment.states import CalibrationStatus
from assessment.windows import create_window
from item_bank import score_response
from item_bank.synthesis import response_for_score

from .factories import import_bank, make_class, make_form, make_window

SECRET = "test-secret-key-0123456789"
MISFIT = "d1-secret-number-code"  # grade 5 only, 0/1
DIF = "d4-password-check"  # grade 8 only, single choice
DRIFTED = "d2-lantern-pattern"  # an anchor (2PL) on both forms
DIF_SHIFT, DRIFT_SHIFT = 1.3, 1.0


def _pk(db: Session, item_id: str) -> int:
    pk = db.scalar(select(ItemRecord.pk).where(ItemRecord.item_id == item_id))
    assert pk is not None
    return pk


def _redraw(db: Session, item_id: str, probability: object, seed: int) -> None:
    """Replace the item's stored answers by responses scoring 1 with probability(theta, gender)."""
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    pk = _pk(db, item_id)
    item = item_from_record(db.get(ItemRecord, pk))  # type: ignore[arg-type]
    rows = db.execute(select(Answer, Attempt.student_id, Student.gender)
                      .join(Attempt, Answer.attempt_id == Attempt.id).join(Student, Attempt.student_id == Student.id)
                      .where(Answer.item_pk == pk)).all()
    for answer, sid, gender in rows:
        score = int(rng.random() < probability(sid, gender))  # type: ignore[operator]
        answer.response = response_for_score(item, score, pick)
        answer.score = score_response(item, answer.response)


def analysed_census(db: Session, *, n_classes: int = 12, per_class: int = 50, previous: bool = True,
                    seed: int = 5) -> int:
    """Window 114 sat by grades 5 and 8 with the three faults, calibrated (auto models); returns the run id."""
    import_bank(db)
    make_window(db, "114")
    make_form(db, 5, seed=113)
    make_form(db, 8, seed=113)
    for c in range(n_classes):
        for grade in (5, 8):
            make_class(db, grade=grade, n_students=per_class, school=f"{'es' if grade == 5 else 'jh'}-{c % 4}")
    for student in db.scalars(select(Student)):
        student.gender = "F" if (student.seat_number or 0) % 2 else "M"
    db.commit()
    # no omissions: an omitted answer scores 0 whatever the student's ability, which no IRT model expects
    # (with them the partial-credit anchors misfit for real in grade 8, where a 0 is rarest)
    report = simulate_census(db, "114", seed=seed, actor="test", design=CensusDesign(omit_rate=0.0))
    theta = report.true_theta
    provisional = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    assert provisional is not None
    truth = {r.item_pk: r for r in provisional.parameters}
    _redraw(db, MISFIT, lambda sid, g: 0.1 + 0.8 * np.exp(-theta[sid] ** 2 / 0.5), seed + 1)
    dif = truth[_pk(db, DIF)]
    _redraw(db, DIF, lambda sid, g: 1 / (1 + np.exp(-(dif.a * theta[sid] + dif.d[0]
                                                        - (dif.a * DIF_SHIFT if g == "F" else 0.0)))), seed + 2)
    if previous:  # the previous year's published set: the truth, but one anchor 1 logit easier
        now = utcnow()
        last_year = create_window(db, "113", "113 學年度普測", now - timedelta(days=400), now - timedelta(days=380))
        pset = ParameterSet(name="published-113", provisional=False, published=True,
                            groups=[{"group": "5", "mean": 0.0, "sd": 1.0, "n": 1}])
        db.add(pset)
        db.flush()
        drifted = _pk(db, DRIFTED)
        for pk, r in truth.items():
            d = [v + (r.a * DRIFT_SHIFT if pk == drifted else 0.0) for v in r.d]
            db.add(ItemParameterRecord(parameter_set_id=pset.id, item_pk=pk, model=r.model, a=r.a, d=d, c=r.c))
        last_year.parameter_set_id = pset.id
    db.commit()
    run = start_run(db, RunRequest(window="114", name="cal-114"), actor="test")
    db.commit()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    assert execute_run(factory, run.id, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    return run.id


def _by_id(analysis: ItemAnalysis) -> dict[str, object]:
    return {r.item_id: r for r in analysis.items}


def test_each_fault_is_flagged_for_what_it_is_and_clean_items_are_not(db: Session) -> None:
    run_id = analysed_census(db)
    steps: list[str] = []
    analysis = analyse_run(db, run_id, secret_key=SECRET, progress=steps.append)
    assert steps == ["reading responses", "classical statistics", "abilities and fit", "DIF and distractors",
                     "anchor drift"]
    s = analysis.summary
    assert s.run_id == run_id and s.window == "114" and s.converged and not s.data_changed
    assert s.n_items == len(analysis.items) == 36 and s.n_students > 1000
    assert s.aic > 0 and s.bic > s.aic and set(s.models) <= {"2pl", "gpcm"}
    assert s.previous_set == "published-113" and s.drift_link is not None
    assert s.drift_link["anchors"] == s.drift_link["common"] - 1  # the drifted anchor left out of the final link
    assert all(0.5 < a < 1 for a in s.form_alpha.values())
    rows = _by_id(analysis)
    flagged = {r.item_id: set(r.flag_codes) for r in analysis.items if r.flags}
    assert "misfit" in flagged.pop(MISFIT)
    assert flagged.pop(DIF) == {"dif"}
    assert flagged.pop(DRIFTED) == {"drift"}
    assert flagged == {}, [(r.item_id, r.flags) for r in analysis.items if r.item_id in flagged]

    dif_row = next(r for r in analysis.dif if r.item_id == DIF and r.comparison == "gender")
    assert (dif_row.focal, dif_row.reference, dif_row.ets_class) == ("F", "M", "C")
    assert dif_row.statistic is not None and dif_row.statistic < -1.5  # harder for the focal group (girls)
    drift_row = rows[DRIFTED]
    assert drift_row.drift == pytest.approx(DRIFT_SHIFT, abs=0.35)  # type: ignore[attr-defined]
    assert "Δb" in drift_row.flags[0].reason  # type: ignore[attr-defined]
    misfit = rows[MISFIT]
    assert misfit.s_x2_p is not None and misfit.s_x2_p < 1e-4  # type: ignore[attr-defined]
    # grade DIF is computed for the anchors only, and none of them has it
    grade = [r for r in analysis.dif if r.comparison == "grade"]
    assert grade and {r.item_id for r in grade} == {r.item_id for r in analysis.items if r.anchor}
    assert {r.focal for r in grade} == {"8"} and all(r.ets_class in ("A", "B", "AA", "BB") for r in grade)

    for r in analysis.items:
        assert 0 < (r.p_value or 0) < 1 and r.n > 300 and r.se_a is not None and r.se_a > 0
        assert len(r.b) == r.max_score and len(r.se_d) == len(r.d)
        if r.item_id not in (MISFIT,):
            lo, hi = FIT_MS_RANGE
            assert r.item_rest_r is not None and r.item_rest_r > 0.2, r.item_id
            assert lo <= (r.infit or 0) <= hi and lo <= (r.outfit or 0) <= hi, r.item_id
    # distractors: single-choice items only, every option listed, the key the most chosen among the able
    choice = {r.item_id for r in analysis.items if r.type == "single_choice"}
    assert {d.item_id for d in analysis.distractors} == choice
    for item_id in choice:
        options = [d for d in analysis.distractors if d.item_id == item_id]
        assert sum(d.key for d in options) == 1 and len(options) >= 3
        assert sum(d.percent or 0 for d in options) == pytest.approx(100.0)
        key = next(d for d in options if d.key)
        assert key.upper_percent is not None and key.lower_percent is not None
        assert key.upper_percent > key.lower_percent
    curves = analysis.curves
    assert len(curves.probabilities) == 36 and curves.information.shape == (36, len(curves.theta))
    np.testing.assert_allclose([p.sum(axis=0) for p in curves.probabilities], 1.0, atol=1e-9)
    assert curves.test_information.max() > 5


def test_without_a_previous_years_set_there_is_no_drift_check_and_no_flag(db: Session) -> None:
    run_id = analysed_census(db, n_classes=4, per_class=40, previous=False)
    analysis = analyse_run(db, run_id, secret_key=SECRET)
    assert analysis.summary.previous_set is None and analysis.summary.drift_link is None
    assert analysis.drift is None
    assert all(r.drift is None and "drift" not in r.flag_codes for r in analysis.items)


def test_a_run_that_is_not_done_or_missing_is_refused_by_name(db: Session) -> None:
    import_bank(db)
    make_window(db, "114")
    make_form(db, 5, seed=113)
    klass = make_class(db, grade=5, n_students=3)
    db.commit()
    with pytest.raises(NotFound, match="no calibration run 77"):
        analyse_run(db, 77, secret_key=SECRET)
    from assessment.sessions import create_session

    create_session(db, class_id=klass.id, form_id=1, window_code="114", actor="test")
    db.commit()
    run = start_run(db, RunRequest(window="114", name="queued"), actor="test")
    db.commit()
    with pytest.raises(Conflict, match=f"calibration run {run.id} is queued, not done"):
        analyse_run(db, run.id, secret_key=SECRET)
