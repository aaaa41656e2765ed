"""Issue 11 end to end, through the `ctcensus` commands a researcher types.

Simulated answers with known item parameters (grades 5 and 8 sharing anchor
items, each grade on its own latent distribution) are written as CSV and
imported with `responses import`; `calibrate --window` calibrates them from the
database (grade groups, free anchors: grade 5 is N(0, 1), so the estimates sit
on a shifted, stretched scale), `params link` carries them onto the true set's
scale through the anchors, `params publish --recompute` makes the linked set
operational and scores the census with it, and the linked parameters recover
the truth. The exported responses calibrated by the file-based `calibrate`
give the in-app run's estimates, and `params export` writes the same file.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assessment.forms import form_items
from assessment.models import ItemParameterRecord, ItemRecord, ParameterSet, ScoreRun, TestWindow
from item_bank import ItemStatus
from scoring import ItemParameters
from scoring.csvio import read_groups_csv, read_params_csv
from scoring.models import category_probabilities
from tests.assessment.factories import import_bank, make_class, make_form, make_window

SECRET = "test-secret-key-0123456789"
#: grade 5's true distribution is not N(0, 1): the calibration's scale is A = 1.2, B = 0.3 away from the truth's
TRUE_LATENT = {5: (0.3, 1.2), 8: (1.1, 1.3)}
N_PER_GRADE = 1000


def _write_census(db: Session, tmp_path: Path, seed: int = 7) -> tuple[dict[int, Path], dict[int, int], str]:
    """Roster, window 113, grade 5 and 8 forms (shared anchors); answers drawn from provisional-2026's parameters.

    Returns the CSV per grade, the form id per grade and the item id made a pilot item on the forms.
    """
    rng = np.random.default_rng(seed)
    import_bank(db)
    make_window(db, "113")
    forms = {5: make_form(db, 5, seed=113), 8: make_form(db, 8, seed=113)}
    truth = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    assert truth is not None
    recs = {r.item_pk: r for r in truth.parameters}
    paths: dict[int, Path] = {}
    for grade in (5, 8):
        layout = [(pk, item) for _, pk, item in form_items(db, forms[grade]) if pk in recs]
        kmax = max(len(recs[pk].d) for pk, _ in layout)
        d = np.full((len(layout), kmax), np.nan)
        for j, (pk, _) in enumerate(layout):
            d[j, : len(recs[pk].d)] = recs[pk].d
        params = ItemParameters(tuple(recs[pk].model for pk, _ in layout),
                                np.array([recs[pk].a for pk, _ in layout]), d)
        rows = [["student", *[item.id for _, item in layout]]]
        per_class = 100
        for c in range(N_PER_GRADE // per_class):
            klass = make_class(db, grade=grade, n_students=per_class, school=f"{'es' if grade == 5 else 'jh'}-{c}")
            theta = rng.normal(*TRUE_LATENT[grade], per_class)
            probs = np.nan_to_num(category_probabilities(theta, params))
            scores = (rng.random((per_class, len(layout)))[:, :, None] > np.cumsum(probs, axis=2)).sum(axis=2)
            present = rng.random(scores.shape) > 0.05
            for seat in range(per_class):
                rows.append([f"{klass.source_id}-{seat + 1:02d}",
                             *[str(int(s)) if p else "" for s, p in zip(scores[seat], present[seat], strict=True)]])
        paths[grade] = tmp_path / f"paper-g{grade}.csv"
        with paths[grade].open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    # a pilot item field-tested on the grade 5 form: publishing a set that holds it makes it operational
    pilot_pk = next(pk for _, pk, item in form_items(db, forms[5]) if not item.anchor)
    db.execute(update(ItemRecord).where(ItemRecord.pk == pilot_pk).values(status=ItemStatus.PILOT))
    pilot = db.get(ItemRecord, pilot_pk)
    assert pilot is not None
    db.commit()
    return paths, {g: f.id for g, f in forms.items()}, pilot.item_id


def _b_by_pk(db: Session, name: str) -> dict[int, list[float]]:
    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == name))
    assert pset is not None
    return {r.item_pk: [-v / r.a for v in r.d] for r in db.scalars(
        select(ItemParameterRecord).where(ItemParameterRecord.parameter_set_id == pset.id))}


def test_simulated_census_calibrate_link_publish_recompute_and_the_cli_file_path(  # type: ignore[no-untyped-def]
        db: Session, tmp_path: Path, run_cli, cli_env) -> None:
    cli_env["SECRET_KEY"] = SECRET
    cli_env["CTCENSUS_REDIS_PREFIX"] = "ctctest:e2e-params:"  # a queue no worker listens to: the CLI runs the job
    paths, forms, pilot = _write_census(db, tmp_path)
    db.rollback()
    for grade in (5, 8):
        result = run_cli("responses", "import", str(paths[grade]), "--window", "113", "--form", str(forms[grade]))
        assert result.exit_code == 0, result.output

    result = run_cli("calibrate", "--window", "113", "--name", "cal-113", "--quiet")
    assert result.exit_code == 0, result.output
    assert "calibration run 1 (cal-113), window 113: done" in result.output
    assert "groups grade, anchors free" in result.output

    result = run_cli("params", "link", "cal-113", "--to", "provisional-2026", "--method", "stocking-lord",
                     "--name", "cal-113-linked", "--json")
    assert result.exit_code == 0, result.output
    linked = json.loads(result.output)
    origin = linked["origin"]
    assert linked["status"] == "draft" and origin["kind"] == "link" and origin["base"] == "provisional-2026"
    assert len(origin["anchors"]) >= 3 and origin["se_A"] > 0 and origin["se_B"] > 0
    # theta_truth = A theta_calibrated + B with A = sd_5 = 1.2, B = mean_5 = 0.3; the jackknife SEs (anchor
    # sampling, 8 anchors) leave out the estimation error of the grade 5 scale itself, hence absolute tolerances
    assert abs(origin["A"] - 1.2) < 0.12 and abs(origin["B"] - 0.3) < 0.1, origin
    assert origin["se_A"] < 0.1 and origin["se_B"] < 0.1, origin
    groups = {g["group"]: g for g in linked["groups"]}
    for grade, (mean, sd) in TRUE_LATENT.items():
        assert abs(groups[str(grade)]["mean"] - mean) < 0.15 and abs(groups[str(grade)]["sd"] - sd) < 0.15, groups

    # recovery of the truth on its own scale (2,000 students, 5% of cells empty): every threshold b
    db.rollback()
    truth, est = _b_by_pk(db, "provisional-2026"), _b_by_pk(db, "cal-113-linked")
    pairs = np.array([(t, e) for pk, bs in est.items() for t, e in zip(truth[pk], bs, strict=True)])
    rmse = float(np.sqrt(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2)))
    assert np.corrcoef(pairs.T)[0, 1] > 0.95 and rmse < 0.25, rmse
    raw = _b_by_pk(db, "cal-113")
    raw_rmse = float(np.sqrt(np.mean([(t - e) ** 2 for pk, bs in raw.items() for t, e in zip(truth[pk], bs,
                                                                                             strict=True)])))
    assert raw_rmse > rmse + 0.1  # before linking the thresholds sit on grade 5's N(0, 1) scale, off the truth's
    db.rollback()

    result = run_cli("params", "publish", "cal-113-linked", "--window", "113", "--recompute")
    assert result.exit_code == 0, result.output
    assert "window 113 now scores with cal-113-linked" in result.output
    assert f"items moved pilot -> operational: {pilot}" in result.output
    assert "results run 1 for window 113 with parameter set cal-113-linked" in result.output
    listing = json.loads(run_cli("params", "list", "--json").output)
    status = {r["name"]: r["status"] for r in listing}
    assert status["cal-113-linked"] == "published for window 113" and status["cal-113"] == "draft"
    window = db.scalar(select(TestWindow).where(TestWindow.code == "113"))
    run = db.scalar(select(ScoreRun).where(ScoreRun.current.is_(True)))
    assert window is not None and run is not None and run.parameter_set_id == window.parameter_set_id
    assert db.scalar(select(ItemRecord.status).where(ItemRecord.item_id == pilot)) == ItemStatus.OPERATIONAL
    db.rollback()

    # the exported responses, calibrated by the file-based CLI: the in-app run's estimates
    out, params = tmp_path / "responses.csv", tmp_path / "params.csv"
    assert run_cli("responses", "export", "--window", "113", "--out", str(out), "--quiet").exit_code == 0
    result = run_cli("calibrate", str(out), "--model", "auto", "--group-column", "grade", "--skip-column", "school",
                     "--skip-column", "gender", "--out", str(params), "--quiet")
    assert result.exit_code == 0, result.output
    exported = tmp_path / "cal-113.csv"
    result = run_cli("params", "export", "cal-113", "--out", str(exported))
    assert result.exit_code == 0, result.output
    file_cal, app_cal = read_params_csv(params), read_params_csv(exported)
    assert file_cal.item_names == app_cal.item_names and file_cal.model == app_cal.model
    np.testing.assert_allclose(app_cal.a, file_cal.a, rtol=0, atol=1e-4)
    np.testing.assert_allclose(np.nan_to_num(app_cal.d), np.nan_to_num(file_cal.d), rtol=0, atol=1e-4)
    assert (tmp_path / "cal-113.groups.csv").read_text().splitlines()[0] == \
        (tmp_path / "params.groups.csv").read_text().splitlines()[0]
    g_file, g_app = read_groups_csv(tmp_path / "params.groups.csv"), read_groups_csv(tmp_path / "cal-113.groups.csv")
    assert g_file.keys() == g_app.keys() == {"5", "8"}
    np.testing.assert_allclose([g_app[k] for k in "58"], [g_file[k] for k in "58"], rtol=0, atol=1e-4)
    theta = tmp_path / "theta.csv"
    result = run_cli("score", str(out), "--params", str(exported), "--group-column", "grade", "--skip-column",
                     "school", "--skip-column", "gender", "--out", str(theta))
    assert result.exit_code == 0, result.output
    assert len(theta.read_text().splitlines()) == 2 * N_PER_GRADE + 1

    # reversible: the window goes back to the provisional set, the pilot item back to pilot
    result = run_cli("params", "unpublish", "--window", "113")
    assert result.exit_code == 0, result.output
    assert "now scores with the provisional set from the item files" in result.output
    assert db.scalar(select(ItemRecord.status).where(ItemRecord.item_id == pilot)) == ItemStatus.PILOT
    assert db.scalar(select(TestWindow.parameter_set_id).where(TestWindow.code == "113")) is None
