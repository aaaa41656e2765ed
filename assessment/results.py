"""Scoring runs: from a window's finished attempts to stored student scores and group statistics.

`compute_results` reads the response matrix, scores it with the window's
operational parameter set (the provisional set from the item files until
researchers publish one), aggregates, and stores the run in the caller's
transaction. A run records its parameter set, settings, software version and
time; the same data, parameters and settings give the same run again
(idempotent: the stored run is made current, nothing is recomputed).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scoring import ItemParameters

from . import audit
from .aggregation import AggregateRow, Units, aggregate, between_school_share, grade_gap, score_distribution
from .attempts import sweep_expired
from .bulk import copy_rows
from .census_scoring import DIMENSIONS, score_students
from .errors import InvalidInput, NotFound
from .item_statistics import item_statistics
from .models import (
    District,
    ItemParameterRecord,
    ParameterSet,
    ResultAggregate,
    ResultItemStat,
    School,
    SchoolClass,
    ScoreRun,
    StudentScore,
    TestWindow,
)
from .reporting_config import ReportingConfig
from .response_matrix import NOT_PRESENTED, NOT_REACHED, ResponseMatrix, load_response_matrix
from .windows import get_window

__all__ = ["PROVISIONAL_SET", "RunOutcome", "compute_results", "current_run", "get_run", "list_runs",
           "software_version", "window_parameter_set"]

PROVISIONAL_SET = "provisional-2026"


def software_version() -> str:
    try:
        return f"ctcensus {metadata.version('ctcensus')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "ctcensus (source)"


@dataclass(frozen=True)
class RunOutcome:
    """What `compute_results` did: the run, and whether it was computed now or found already stored."""

    run: ScoreRun
    reused: bool


def window_parameter_set(session: Session, window: TestWindow, name: str | None = None) -> ParameterSet:
    """The named set, else the window's published set, else the provisional set shipped with the items."""
    if name is not None:
        pset = session.scalar(select(ParameterSet).where(ParameterSet.name == name))
        if pset is None:
            known = ", ".join(session.scalars(select(ParameterSet.name).order_by(ParameterSet.name))) or "none"
            raise NotFound(f"no parameter set named {name!r}; known sets: {known}")
        return pset
    if window.parameter_set_id is not None:
        pset = session.get(ParameterSet, window.parameter_set_id)
        if pset is not None:
            return pset
    pset = session.scalar(select(ParameterSet).where(ParameterSet.name == PROVISIONAL_SET))
    if pset is None:
        pset = session.scalar(select(ParameterSet).where(ParameterSet.provisional.is_(True)).order_by(ParameterSet.id))
    if pset is None:
        raise NotFound("no parameter set to score with: import items with irt parameters, or publish a calibration "
                       "for this window")
    return pset


def _item_parameters(session: Session, pset: ParameterSet, matrix: ResponseMatrix) -> tuple[ItemParameters, np.ndarray]:
    records = {r.item_pk: r for r in session.scalars(
        select(ItemParameterRecord).where(ItemParameterRecord.parameter_set_id == pset.id,
                                          ItemParameterRecord.item_pk.in_(matrix.item_pks.tolist())))}
    columns = [j for j, pk in enumerate(matrix.item_pks.tolist()) if pk in records]
    if not columns:
        raise InvalidInput(f"parameter set {pset.name!r} has parameters for none of the items on this window's forms")
    kmax = max(len(records[int(matrix.item_pks[j])].d) for j in columns)
    models, a, c, d = [], [], [], np.full((len(columns), kmax), np.nan)
    for k, j in enumerate(columns):
        rec = records[int(matrix.item_pks[j])]
        n_cat = len(rec.d) + 1
        if n_cat != int(matrix.item_max[j]) + 1:
            raise InvalidInput(f"parameter set {pset.name!r}: item {matrix.item_ids[j]} has {n_cat} score categories "
                               f"but its maximum score is {int(matrix.item_max[j])}")
        models.append(rec.model)
        a.append(rec.a)
        c.append(rec.c or 0.0)
        d[k, : len(rec.d)] = rec.d
    params = ItemParameters(tuple(models), np.array(a), d, np.array(c),
                            tuple(matrix.item_ids[j] for j in columns))
    return params, np.array(columns, dtype=np.int64)


def _fingerprint(matrix: ResponseMatrix, params: ItemParameters, settings: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for arr in (matrix.attempt_ids, matrix.grades, matrix.school_ids, matrix.class_ids, matrix.status,
                np.nan_to_num(matrix.scores, nan=-1.0), params.a, np.nan_to_num(params.d, nan=-99.0), params.c):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update("|".join(matrix.genders.tolist()).encode())
    # where the reporting file lies says nothing about the run (and would make the PV draws, seeded from this
    # fingerprint, depend on the checkout's folder): its contents count, its path does not
    reporting = {k: v for k, v in settings.get("reporting", {}).items() if k != "source"}
    h.update(json.dumps([params.model, params.item_names, settings | {"reporting": reporting}], sort_keys=True,
                        default=str).encode())
    return h.hexdigest()


def _base(session: Session, window: TestWindow, config: ReportingConfig) -> tuple[float, float] | None:
    """The base cohort's theta mean/SD: configured, or from the base year's current run (None: this is the base)."""
    if config.base_mean is not None and config.base_sd is not None:
        return config.base_mean, config.base_sd
    if window.academic_year == config.base_year:
        return None
    base_run = session.scalar(
        select(ScoreRun).join(TestWindow, ScoreRun.window_id == TestWindow.id)
        .where(TestWindow.academic_year == config.base_year, ScoreRun.current.is_(True)).limit(1))
    if base_run is None or "base" not in base_run.summary:
        raise InvalidInput(
            f"the reporting scale is defined by grade {config.base_grade} of academic year {config.base_year}, "
            f"which has no current scoring run; compute that window first or set scale.base_mean/base_sd in "
            f"{config.source}")
    return float(base_run.summary["base"]["theta_mean"]), float(base_run.summary["base"]["theta_sd"])


def compute_results(
    session: Session,
    window_code: str,
    config: ReportingConfig,
    *,
    min_cell_size: int,
    parameter_set: str | None = None,
    actor: str = "system",
    progress: Callable[[str], None] = lambda step: None,
) -> RunOutcome:
    """Score every finished attempt of the window and store a run (made current) in the caller's transaction."""
    window = get_window(session, window_code)
    progress("reading answers")
    sweep_expired(session, actor=actor)
    pset = window_parameter_set(session, window, parameter_set)
    matrix = load_response_matrix(session, window)
    if matrix.n_students == 0:
        raise InvalidInput(f"window {window.code} has no finished attempt with an answer to score yet")
    params, columns = _item_parameters(session, pset, matrix)
    base = _base(session, window, config)
    settings = {"reporting": config.to_dict(), "min_cell_size": min_cell_size, "parameter_set": pset.name,
                "conditioning": "grade x school cells, gender covariate, residual SD per grade",
                "reported_theta": "wle", "group_statistics": "plausible values, Rubin's rules, SRS variance",
                "base": list(base) if base else "this window",
                # what a run stores: a run made before a new output was added is recomputed, not reused
                "outputs": ["students", "aggregates", "item statistics", "distributions"]}
    version = software_version()
    fp = _fingerprint(matrix, params, settings | {"version": version})
    existing = session.scalar(select(ScoreRun).where(ScoreRun.window_id == window.id, ScoreRun.fingerprint == fp))
    if existing is not None:
        _make_current(session, existing)
        return RunOutcome(existing, True)

    res = score_students(matrix, params, columns, config, base=base,
                         base_is_this_window=base is None, seed=int(fp[:8], 16), progress=progress)
    progress("group statistics")
    keep = res.keep
    units = _units(session, matrix, keep)
    rows = aggregate(units, res.pv_scale, res.dimensions, config.cuts, config.level_codes, min_cell_size)
    hidden = {(r.level, r.unit, r.grade) for r in rows if r.suppressed and r.subgroup == "all"}
    summary = _summary(matrix, res, rows, columns, units, config)
    summary["distribution"] = score_distribution(res.pv_scale, units, _bin_edges(config), hidden)
    scores, status = matrix.for_scoring(config.not_reached)[keep], matrix.status[keep]
    if config.not_reached == "missing":  # not-reached items then say nothing about the item, as in scoring
        status = np.where(status == NOT_REACHED, NOT_PRESENTED, status).astype(np.int8)
    item_rows = item_statistics(units, scores, status, matrix.item_ids, matrix.item_pks.tolist(),
                                matrix.item_max, suppressed_units=hidden, min_n=min_cell_size)

    progress("storing")
    run = ScoreRun(window_id=window.id, parameter_set_id=pset.id, current=False, fingerprint=fp, settings=settings,
                   summary=summary, software_version=version, created_by=actor)
    session.add(run)
    session.flush()
    _store_students(session, run.id, matrix, res, config)
    _store_aggregates(session, run.id, rows)
    copy_rows(session, ResultItemStat, [r | {"run_id": run.id} for r in item_rows])
    _make_current(session, run)
    audit.record(session, actor, "results.compute", window.code, run_id=run.id, parameter_set=pset.name,
                 students=int(keep.sum()))
    return RunOutcome(run, False)


def _bin_edges(config: ReportingConfig) -> list[float]:
    """Histogram bins of a quarter SD from 3.5 SDs below to 3.5 SDs above the scale's mean (150..850 by 25)."""
    return [config.mean + config.sd * (k / 4 - 3.5) for k in range(29)]


def _units(session: Session, matrix: ResponseMatrix, keep: np.ndarray) -> Units:
    classes = dict(session.execute(select(SchoolClass.id, SchoolClass.source_id)
                                   .where(SchoolClass.id.in_(set(matrix.class_ids.tolist())))).all())
    schools = session.execute(select(School.id, School.source_id, School.tags)
                              .where(School.id.in_(set(matrix.school_ids.tolist())))).all()
    districts = dict(session.execute(select(District.id, District.source_id)).all())
    return Units(class_ids=matrix.class_ids[keep], school_ids=matrix.school_ids[keep],
                 district_ids=matrix.district_ids[keep], grades=matrix.grades[keep], genders=matrix.genders[keep],
                 class_keys=classes, school_keys={s.id: s.source_id for s in schools}, district_keys=districts,
                 school_tags={s.id: tuple(s.tags or ()) for s in schools})


def _summary(matrix: ResponseMatrix, res: Any, rows: Sequence[AggregateRow], columns: np.ndarray, units: Units,
             config: ReportingConfig) -> dict[str, Any]:
    status = matrix.status[:, columns][res.keep]
    shares = {}
    for g in np.unique(units.grades).tolist():
        share = between_school_share(res.pv_scale[units.grades == g], units.school_ids[units.grades == g])
        if share is not None:
            shares[str(g)] = share
    model = res.model
    return {
        "students_scored": int(res.keep.sum()),
        "students_without_scored_answers": int((~res.keep).sum()) + matrix.n_without_answers,
        "imported": int(matrix.imported[res.keep].sum()),
        "items_scored": [matrix.item_ids[j] for j in columns],
        "items_without_parameters": [matrix.item_ids[j] for j in range(len(matrix.item_ids)) if j not in set(columns)],
        "cells": {"answered": int((status == 0).sum()), "omitted": int((status == 1).sum()),
                  "not_reached": int((status == 2).sum()), "not_presented": int((status == 3).sum())},
        "base": {"year": config.base_year, "grade": config.base_grade, "theta_mean": res.base_mean,
                 "theta_sd": res.base_sd},
        "population_model": {"iterations": model.n_iter, "converged": model.converged,
                             "residual_sd": dict(zip(map(str, model.variance_labels), model.residual_sd.tolist(),
                                                     strict=True)),
                             "cells": len(model.cell_labels), "bounded_cells": [str(c) for c in model.bounded_cells]},
        "grade_gap_8_minus_5": grade_gap(rows),
        "between_school_share": shares,
        "suppressed_rows": sum(1 for r in rows if r.suppressed),
        "dimensions": list(DIMENSIONS),
    }


def _store_students(session: Session, run_id: int, matrix: ResponseMatrix, res: Any, config: ReportingConfig) -> None:
    keep = np.flatnonzero(res.keep)
    status = matrix.status[keep]
    codes = config.level_codes

    # whole columns become Python objects first: indexing numpy arrays per row cost more than the rest together
    def rounded(x: np.ndarray, digits: int) -> list[float]:
        return [round(v, digits) for v in np.asarray(x, dtype=np.float64).tolist()]

    attempt, student, klass, school, district, grade, gender = (
        a[keep].tolist() for a in (matrix.attempt_ids, matrix.student_ids, matrix.class_ids, matrix.school_ids,
                                   matrix.district_ids, matrix.grades, matrix.genders))
    eap, eap_se, wle, wle_se = (rounded(x, 4) for x in (res.eap, res.eap_se, res.wle, res.wle_se))
    scale, scale_se = rounded(res.scale, 2), rounded(res.scale_se, 2)
    level = [codes[i] for i in res.level_index.tolist()]
    dims, pvs = res.dimensions.tolist(), res.pvs.tolist()
    n_presented, n_answered, n_omitted, n_not_reached = (
        m.sum(axis=1).tolist() for m in (status != 3, status == 0, status == 1, status == 2))
    values = [
        {"run_id": run_id, "attempt_id": attempt[k], "student_id": student[k], "class_id": klass[k],
         "school_id": school[k], "district_id": district[k], "grade": grade[k], "gender": gender[k],
         "eap": eap[k], "eap_se": eap_se[k], "wle": wle[k], "wle_se": wle_se[k],
         "scale_score": scale[k], "scale_se": scale_se[k], "level": level[k],
         "dimensions": {d: (None if v != v else round(v, 1)) for d, v in zip(DIMENSIONS, dims[k], strict=True)},
         "pvs": [round(v, 4) for v in pvs[k]],
         "n_presented": n_presented[k], "n_answered": n_answered[k], "n_omitted": n_omitted[k],
         "n_not_reached": n_not_reached[k]}
        for k in range(keep.size)
    ]
    copy_rows(session, StudentScore, values)


def _store_aggregates(session: Session, run_id: int, rows: Sequence[AggregateRow]) -> None:
    values = [{"run_id": run_id, "level": r.level, "unit": r.unit, "district_id": r.district_id,
               "school_id": r.school_id, "class_id": r.class_id, "grade": r.grade, "subgroup": r.subgroup,
               "suppressed": r.suppressed, "suppression": r.suppression, "n": r.n, "mean": r.mean, "se": r.se,
               "sd": r.sd, "sd_se": r.sd_se, "ci_low": r.ci_low, "ci_high": r.ci_high, "percents": r.percents,
               "dimensions": r.dimensions} for r in rows]
    copy_rows(session, ResultAggregate, values)


def _make_current(session: Session, run: ScoreRun) -> None:
    session.execute(update(ScoreRun).where(ScoreRun.window_id == run.window_id, ScoreRun.id != run.id)
                    .values(current=False))
    run.current = True
    session.flush()


def list_runs(session: Session, window_code: str) -> list[ScoreRun]:
    """Every run of the window, newest first."""
    window = get_window(session, window_code)
    return list(session.scalars(select(ScoreRun).where(ScoreRun.window_id == window.id)
                                .order_by(ScoreRun.id.desc())))


def current_run(session: Session, window_code: str) -> ScoreRun:
    """The window's current run, or NotFound with the command that makes one."""
    window = get_window(session, window_code)
    run = session.scalar(select(ScoreRun).where(ScoreRun.window_id == window.id, ScoreRun.current.is_(True)))
    if run is None:
        raise NotFound(f"window {window.code} has no results yet; run `ctcensus results compute --window {window.code}`")
    return run


def get_run(session: Session, window_code: str, run_id: int | None = None) -> ScoreRun:
    """A run of the window by id, or its current run."""
    if run_id is None:
        return current_run(session, window_code)
    window = get_window(session, window_code)
    run = session.get(ScoreRun, run_id)
    if run is None or run.window_id != window.id:
        raise NotFound(f"window {window.code} has no run {run_id}; list them with `ctcensus results runs`")
    return run

