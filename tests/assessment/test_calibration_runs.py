"""Calibration runs from the database (issue 11.2): recovery of known parameters, draft sets, cancel, bad input."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from assessment.calibration_runs import RunRequest, cancel_run, execute_run, get_run, start_run
from assessment.db import make_session_factory
from assessment.errors import Conflict, InvalidInput, NotFound
from assessment.forms import form_items
from assessment.models import AuditEntry, CalibrationRun, ItemParameterRecord, ItemRecord, ParameterSet
from assessment.responses_import import import_responses
from assessment.states import CalibrationStatus
from scoring import ItemParameters
from scoring.models import category_probabilities

from .factories import import_bank, make_class, make_form, make_window

SECRET = "test-secret-key-0123456789"
TRUE_LATENT = {5: (0.0, 1.0), 8: (0.8, 1.1)}  # grade 5 is the reference group N(0, 1)


def simulate_known_census(db: Session, tmp_path: Path, n_per_grade: int = 700, seed: int = 11) -> dict[int, tuple[str, float, list[float]]]:
    """Grades 5 and 8 (forms sharing the anchors) answer by the provisional set's parameters; imported on paper.

    Returns the truth per item version: {item pk: (model, a, d)}.
    """
    rng = np.random.default_rng(seed)
    import_bank(db)
    make_window(db, "113")
    forms = {5: make_form(db, 5, seed=113), 8: make_form(db, 8, seed=113)}
    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    assert pset is not None
    recs = {r.item_pk: r for r in db.scalars(select(ItemParameterRecord)
                                             .where(ItemParameterRecord.parameter_set_id == pset.id))}
    truth: dict[int, tuple[str, float, list[float]]] = {}
    for grade in (5, 8):
        layout = [(pk, item) for _, pk, item in form_items(db, forms[grade]) if pk in recs]
        kmax = max(len(recs[pk].d) for pk, _ in layout)
        d = np.full((len(layout), kmax), np.nan)
        for j, (pk, _) in enumerate(layout):
            d[j, : len(recs[pk].d)] = recs[pk].d
            truth[pk] = (recs[pk].model, recs[pk].a, list(recs[pk].d))
        params = ItemParameters(tuple(recs[pk].model for pk, _ in layout), np.array([recs[pk].a for pk, _ in layout]), d)
        rows = [["student", *[item.id for _, item in layout]]]
        per_class = 100
        for c in range(n_per_grade // per_class):
            klass = make_class(db, grade=grade, n_students=per_class, school=f"{'es' if grade == 5 else 'jh'}-{c}")
            mean, sd = TRUE_LATENT[grade]
            theta = rng.normal(mean, sd, per_class)
            probs = np.nan_to_num(category_probabilities(theta, params))
            scores = (rng.random((per_class, len(layout)))[:, :, None] > np.cumsum(probs, axis=2)).sum(axis=2)
            for seat in range(per_class):
                rows.append([f"{klass.source_id}-{seat + 1:02d}",
                             *[str(int(s)) if rng.random() > 0.05 else "" for s in scores[seat]]])
        db.commit()
        path = tmp_path / f"paper-g{grade}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
        import_responses(db, path, window_code="113", form_id=forms[grade].id, actor="test")
        db.commit()
    return truth


def _factory(db: Session) -> sessionmaker[Session]:
    return make_session_factory(db.get_bind())  # type: ignore[arg-type]


def _start(db: Session, **kw: object) -> int:
    run = start_run(db, RunRequest(**{"window": "113", "name": "cal-113"} | kw), actor="test")  # type: ignore[arg-type]
    db.commit()
    return run.id


def test_a_run_from_the_database_recovers_known_parameters_as_a_draft_set(db: Session, tmp_path: Path) -> None:
    truth = simulate_known_census(db, tmp_path)
    run_id = _start(db)
    assert execute_run(_factory(db), run_id, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    run = get_run(db, run_id)
    assert run.status is CalibrationStatus.DONE and run.started_at and run.finished_at
    res = run.result
    assert res is not None and res["converged"] and res["n_persons"] == 1400 and res["n_fixed"] == 0
    assert res["aic"] == pytest.approx(-2 * res["loglik"] + 2 * res["n_parameters"])
    assert res["bic"] > res["aic"]
    assert run.selection["window"] == "113" and run.selection["rows"] == 1400 and run.selection["grades"] == [5, 8]
    assert run.settings["model"] == "auto" and run.settings["anchors"] == "free" and run.software_version
    pset = run.parameter_set
    assert pset is not None and pset.name == "cal-113" and pset.provisional and not pset.published
    assert f"run {run_id}" in pset.description
    groups = {g["group"]: g for g in pset.groups or []}
    assert groups["5"]["mean"] == 0.0 and groups["5"]["sd"] == 1.0 and groups["5"]["se_mean"] is None
    assert abs(groups["8"]["mean"] - TRUE_LATENT[8][0]) < 0.15 and abs(groups["8"]["sd"] - TRUE_LATENT[8][1]) < 0.15
    records = db.scalars(select(ItemParameterRecord).where(ItemParameterRecord.parameter_set_id == pset.id)).all()
    assert {r.item_pk for r in records} == set(truth) and len(records) == res["n_items"]
    anchors = set(db.scalars(select(ItemRecord.pk).where(ItemRecord.anchor.is_(True))))
    assert anchors & set(truth)  # the two grades share anchors
    errors_a, errors_d = [], []
    for r in records:
        model, a, d = truth[r.item_pk]
        assert r.model == model and len(r.d) == len(d)
        assert r.se is not None and r.se["a"] > 0 and all(s > 0 for s in r.se["d"]) and not r.se["fixed"]
        errors_a.append(r.a - a)
        errors_d.extend(np.subtract(r.d, d).tolist())
        assert abs(r.a - a) < 4 * r.se["a"] + 0.05, r.item_pk
    # 700 students a grade, 5% of cells empty: slopes and intercepts within a few tenths, no bias
    assert np.sqrt(np.mean(np.square(errors_a))) < 0.2 and abs(np.mean(errors_a)) < 0.08
    assert np.sqrt(np.mean(np.square(errors_d))) < 0.25 and abs(np.mean(errors_d)) < 0.1
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.target == f"run {run_id}")).all()
    assert set(actions) == {"calibration.start", "calibration.done"}


def test_a_cancelled_run_stores_nothing(db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=300)
    before = db.scalar(select(func.count()).select_from(ItemParameterRecord))
    run_id = _start(db)
    seen: list[int] = []

    def cancel_at_second_iteration(iteration: int) -> bool:
        seen.append(iteration)
        return iteration >= 2

    assert execute_run(_factory(db), run_id, secret_key=SECRET,
                       should_cancel=cancel_at_second_iteration) is CalibrationStatus.CANCELLED
    assert seen == [1, 2]
    db.expire_all()
    run = get_run(db, run_id)
    assert run.status is CalibrationStatus.CANCELLED and run.parameter_set_id is None and run.result is None
    assert "iteration 2" in run.message
    assert db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-113")) is None
    assert db.scalar(select(func.count()).select_from(ItemParameterRecord)) == before
    with pytest.raises(Conflict, match="already ended"):
        cancel_run(db, run_id, "test")
    db.rollback()
    # the name is free again: a new run may take it
    assert execute_run(_factory(db), _start(db, max_iter=3), secret_key=SECRET) is CalibrationStatus.DONE


def test_a_run_cancelled_while_queued_never_starts_and_the_flag_stops_a_running_one(db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=200)
    run_id = _start(db)
    assert cancel_run(db, run_id, "test").status is CalibrationStatus.CANCELLED
    db.commit()
    assert execute_run(_factory(db), run_id, secret_key=SECRET) is CalibrationStatus.CANCELLED
    db.expire_all()
    assert get_run(db, run_id).started_at is None
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "calibration.cancel")) == 1

    # the default check reads the run's cancel flag (set here from "another process" at the 3rd iteration)
    run_id = _start(db, name="cal-113-b")
    factory = _factory(db)
    import assessment.calibration_runs as runs

    original, runs.PROGRESS_SECONDS = runs.PROGRESS_SECONDS, 0.0
    calls = {"n": 0}
    real = runs._cancel_requested

    def flag_then_read(f: sessionmaker[Session], rid: int) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:
            with f() as other, other.begin():
                cancel_run(other, rid, "cli:someone")
        return real(f, rid)

    runs._cancel_requested = flag_then_read  # type: ignore[assignment]
    try:
        assert execute_run(factory, run_id, secret_key=SECRET) is CalibrationStatus.CANCELLED
    finally:
        runs.PROGRESS_SECONDS, runs._cancel_requested = original, real  # type: ignore[assignment]
    assert db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-113-b")) is None


def test_anchors_fixed_hold_the_base_scales_values(db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=400)
    with pytest.raises(InvalidInput, match="--anchor-set"):
        _start(db, anchors="fixed")  # no set is published for the base year
    db.rollback()
    run_id = _start(db, anchors="fixed", anchor_set="provisional-2026")
    assert execute_run(_factory(db), run_id, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    run = get_run(db, run_id)
    provisional = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    assert provisional is not None and run.parameter_set is not None
    truth = {r.item_pk: r for r in provisional.parameters}
    fixed = [r for r in run.parameter_set.parameters if r.se and r.se["fixed"]]
    anchors = set(db.scalars(select(ItemRecord.pk).where(ItemRecord.anchor.is_(True))))
    assert fixed and {r.item_pk for r in fixed} == anchors & {r.item_pk for r in run.parameter_set.parameters}
    for r in fixed:
        assert r.a == pytest.approx(truth[r.item_pk].a, abs=1e-12) and r.se["a"] is None
    assert run.result is not None and run.result["n_fixed"] == len(fixed)
    groups = {g["group"]: g for g in run.parameter_set.groups or []}
    # the anchors set the scale: grade 5's distribution is estimated too (truth N(0, 1))
    assert abs(groups["5"]["mean"]) < 0.15 and groups["5"]["se_mean"] is not None
    assert abs(groups["8"]["mean"] - 0.8) < 0.2


def test_bad_requests_are_refused_and_store_nothing(db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=200)
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"window": "999"}, NotFound, "999"),
        ({"grade": 7}, InvalidInput, "no grade 7"),
        ({"model": "4pl"}, InvalidInput, "--model"),
        ({"group_column": "school"}, InvalidInput, "--group-column"),
        ({"anchors": "loose"}, InvalidInput, "--anchors"),
        ({"name": ""}, InvalidInput, "--name"),
        ({"name": "provisional-2026"}, Conflict, "exists already"),
        ({"anchors": "fixed", "anchor_set": "nope"}, NotFound, "nope"),
    ]
    for kwargs, error, text in cases:
        with pytest.raises(error, match=text):
            _start(db, **kwargs)
        db.rollback()
    assert db.scalar(select(func.count()).select_from(CalibrationRun)) == 0
    first = _start(db, grade=8)
    with pytest.raises(Conflict, match=f"run {first} is already making"):
        _start(db)
    db.rollback()
    assert execute_run(_factory(db), first, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    run = get_run(db, first)
    assert run.result is not None and run.result["n_persons"] == 200 and run.selection["grades"] == [8]
    assert [g["group"] for g in run.parameter_set.groups] == ["all"]  # type: ignore[union-attr]
