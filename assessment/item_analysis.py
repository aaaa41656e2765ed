"""The item-analysis report of a done calibration run (issue 11.3): CTT, IRT, fit, DIF, drift, curves, flags.

Computed on demand from what the run stored: its data selection is read again
through the responses export's selection (`select_responses`, the very rows and
columns the run calibrated), its estimates and SEs come from its draft parameter
set, its groups' latent distributions from the set's `groups`. The numbers come
from scoring/ (ctt, fit, dif, linking, models); assessment/item_analysis_stats.py
fits them to booklet designs. Nothing is stored: the same run and data give the
same report, and the report says when the window's data changed since the run.

Flags (each with a short reason naming the number and its threshold):

- low discrimination: corrected item-rest r < `MIN_ITEM_REST_R` or slope a < `MIN_SLOPE`;
- misfit: infit or outfit mean-square outside `FIT_MS_RANGE`, or S-X2 significant at `SX2_ALPHA` after the
  Benjamini–Hochberg adjustment over the run's items;
- DIF: ETS class C (CC for partial-credit items) by gender, or by grade for anchors;
- drift: an anchor whose difficulty moved by more than `DRIFT_LOGITS` from the previous year's published set.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import ItemParameters, MantelHaenszelDIF, category_probabilities, distractor_counts, estimate_ability
from scoring import item_fit as _item_fit
from scoring.models import item_information

from .calibration_runs import get_run
from .errors import Conflict
from .item_analysis_stats import (
    DRIFT_LOGITS,
    Drift,
    anchor_drift,
    ctt_by_form,
    dif_by_ability,
    s_x2_by_form,
)
from .item_store import item_from_record
from .models import Answer, CalibrationRun, ItemParameterRecord, ItemRecord, ParameterSet, TestWindow
from .responses_export import ResponseSelection, select_responses
from .states import CalibrationStatus

__all__ = ["DIF_FLAG_CLASSES", "DRIFT_LOGITS", "FIT_MS_RANGE", "MIN_ITEM_REST_R", "MIN_SLOPE", "SX2_ALPHA",
           "Curves", "DifRow", "DistractorRow", "Flag", "ItemAnalysis", "ItemRow", "Summary", "analyse_run"]

#: Corrected item-rest correlations below 0.20 mark items that barely separate able from less able
#: students (Ebel & Frisbie, 1991, "poor item, to be rejected or revised").
MIN_ITEM_REST_R = 0.20
#: Slopes (logistic metric, mirt's a) below 0.5 carry little information anywhere on the scale: below
#: Baker's (2001) "low" band (0.35-0.64 on this metric starts at 0.65 for "moderate").
MIN_SLOPE = 0.5
#: Infit/outfit mean squares outside 0.7-1.3 (Wright & Linacre, 1994, "run of the mill" tests); with
#: thousands of students the t statistics flag trivial misfit, so the band judges the size, not the p.
FIT_MS_RANGE = (0.7, 1.3)
#: S-X2 (Orlando & Thissen, 2000) flags at 1 % after the Benjamini–Hochberg (1995) false-discovery-rate
#: adjustment over the run's items: an unadjusted 1 % test would flag one clean item in every hundred tests
#: (about one report in three with ~36 items), while a real misfit at census sample sizes has p far below it.
SX2_ALPHA = 0.01
#: ETS DIF classes that flag an item (Zwick, 2012): C for 0/1 items, CC for partial credit.
DIF_FLAG_CLASSES = ("C", "CC")
THETA_GRID = np.round(np.linspace(-4.0, 4.0, 41), 2)
_GENDERS = ("F", "M")  # focal, reference


@dataclass(frozen=True)
class Flag:
    """Why an item needs a look: `code` (low_discrimination, misfit, dif, drift) and the numbers behind it."""

    code: str
    reason: str


@dataclass(frozen=True)
class DifRow:
    """Mantel–Haenszel DIF of one item for one comparison (gender F vs M, or a grade vs the lowest grade)."""

    item_id: str
    comparison: str  # "gender" or "grade"
    focal: str
    reference: str
    n_focal: int
    n_reference: int
    statistic: float | None  # MH D-DIF (0/1 items) or SMD (partial credit)
    se: float | None
    chi_square: float | None
    p_value: float | None
    ets_class: str


@dataclass(frozen=True)
class DistractorRow:
    """How many students chose one option of a single-choice item, overall and in the top/bottom 27 %."""

    item_id: str
    option: str
    key: bool
    count: int
    percent: float | None
    upper_percent: float | None
    lower_percent: float | None


@dataclass(frozen=True)
class ItemRow:
    """Everything the report says about one item version of the run."""

    item_id: str
    item_pk: int
    type: str
    dimension: str
    anchor: bool
    max_score: int
    model: str
    fixed: bool
    n: int
    p_value: float | None
    item_rest_r: float | None
    alpha_if_deleted: float | None
    a: float
    se_a: float | None
    d: tuple[float, ...]
    se_d: tuple[float | None, ...]
    b: tuple[float, ...]
    c: float
    se_c: float | None
    infit: float | None
    outfit: float | None
    s_x2: float | None
    s_x2_df: float | None
    s_x2_p: float | None
    s_x2_q: float | None  # p adjusted over the run's items (Benjamini–Hochberg)
    dif_gender: str | None  # ETS class, None when not computed
    dif_grade: str | None
    drift: float | None  # displacement (logits) of an anchor against the previous year's set
    flags: tuple[Flag, ...] = ()

    @property
    def flag_codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.flags)


@dataclass(frozen=True)
class Curves:
    """Category probability and information curves on `theta` for every item, and the test's information."""

    theta: NDArray[np.float64]  # (Q,)
    probabilities: tuple[NDArray[np.float64], ...]  # per item (K_j, Q)
    information: NDArray[np.float64]  # (J, Q)
    test_information: NDArray[np.float64]  # (Q,)


@dataclass(frozen=True)
class Summary:
    """The run as a whole: data, model, fit, reliability and what the drift check compared with."""

    run_id: int
    name: str
    window: str
    academic_year: int
    grade: int | None
    model: str
    models: dict[str, int]
    n_students: int
    n_items: int
    converged: bool
    n_iter: int
    loglik: float
    aic: float
    bic: float
    groups: list[dict[str, Any]]
    form_alpha: dict[int, float]
    n_now: int  # rows the window gives today
    n_then: int  # rows the run calibrated
    data_changed: bool
    previous_set: str | None
    drift_link: dict[str, float] | None  # A, B and the anchors the link rests on
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ItemAnalysis:
    """The whole report: summary, one row per item, DIF and distractor tables, curves."""

    summary: Summary
    items: tuple[ItemRow, ...]
    dif: tuple[DifRow, ...]
    distractors: tuple[DistractorRow, ...]
    ctt_forms: tuple[tuple[int, str, int, float, float, float], ...]  # form, item, n, p, r, alpha if deleted
    curves: Curves
    drift: Drift | None

    @property
    def flagged(self) -> tuple[ItemRow, ...]:
        return tuple(r for r in self.items if r.flags)


Progress = Callable[[str], None]


def _num(value: Any) -> float | None:
    """A finite float, else None (NaN never reaches a page, a cell or JSON)."""
    if value is None:
        return None
    v = float(value)
    return v if np.isfinite(v) else None


def _parameters(records: list[ItemParameterRecord], names: tuple[str, ...]) -> ItemParameters:
    kmax = max(len(r.d) for r in records)
    d = np.full((len(records), kmax), np.nan)
    for j, r in enumerate(records):
        d[j, : len(r.d)] = r.d
    return ItemParameters(tuple(r.model for r in records), np.array([r.a for r in records]), d,
                          np.array([r.c or 0.0 for r in records]), item_names=names)


def _done_run(session: Session, run_id: int) -> tuple[CalibrationRun, ParameterSet]:
    run = get_run(session, run_id)
    if run.status != CalibrationStatus.DONE:
        raise Conflict(f"calibration run {run_id} is {run.status}, not done: its item analysis exists once it ends "
                       f"done (ctcensus calibrate --status {run_id})")
    if run.parameter_set is None:
        raise Conflict(f"calibration run {run_id} has no parameter set any more (it was deleted); run it again")
    return run, run.parameter_set


def _previous_set(session: Session, window: TestWindow) -> ParameterSet | None:
    """The set published for a window of the previous academic year (the first such window)."""
    return session.scalar(
        select(ParameterSet).join(TestWindow, TestWindow.parameter_set_id == ParameterSet.id)
        .where(TestWindow.academic_year == window.academic_year - 1).order_by(TestWindow.id).limit(1))


def _latent_by_form(selection: ResponseSelection, groups: list[dict[str, Any]]) -> dict[int, tuple[float, float]]:
    by_group = {str(g["group"]): (float(g["mean"]), float(g["sd"])) for g in groups}
    out = {}
    for form in np.unique(selection.form_ids).tolist():
        grade = int(np.bincount(selection.grades[selection.form_ids == form]).argmax())
        out[int(form)] = by_group.get(str(grade), by_group.get("all", (0.0, 1.0)))
    return out


def _dif_rows(res: MantelHaenszelDIF, comparison: str, columns: list[int], names: tuple[str, ...]) -> list[DifRow]:
    rows = []
    for k, j in enumerate(columns):
        poly = bool(res.polytomous[k])
        if int(res.n_focal[k]) == 0 or int(res.n_reference[k]) == 0:
            continue
        rows.append(DifRow(names[j], comparison, str(res.focal), str(res.reference), int(res.n_focal[k]),
                           int(res.n_reference[k]), _num(res.smd[k] if poly else res.mh_d_dif[k]),
                           None if poly else _num(res.mh_d_dif_se[k]), _num(res.chi_square[k]),
                           _num(res.p_value[k]), res.classification[k]))
    return rows


def _dif(selection: ResponseSelection, cells: NDArray[np.float64], theta: NDArray[np.float64],
         anchors: NDArray[np.bool_]) -> list[DifRow]:
    """Gender DIF (F focal, M reference) of every item; grade DIF (each grade vs the lowest) of the anchors."""
    names = selection.item_ids
    rows: list[DifRow] = []
    genders = np.array(selection.genders, dtype=str)
    res = dif_by_ability(cells, genders, *_GENDERS, theta, forms=selection.form_ids, item_names=names)
    if res is not None:
        rows += _dif_rows(res, "gender", list(range(len(names))), names)
    grades = sorted(set(selection.grades.tolist()))
    cols = np.flatnonzero(anchors)
    if len(grades) > 1 and cols.size:
        labels = selection.grades.astype(str)
        for focal in grades[1:]:
            res = dif_by_ability(cells[:, cols], labels, str(focal), str(grades[0]), theta,
                                 item_names=tuple(names[j] for j in cols))
            if res is not None:
                rows += _dif_rows(res, "grade", cols.tolist(), names)
    return rows


def _distractors(session: Session, selection: ResponseSelection, items: dict[int, Any],
                 theta: NDArray[np.float64]) -> list[DistractorRow]:
    """Option choices of the single-choice items, read from the stored responses (imported rows have none)."""
    cols = [j for j, pk in enumerate(selection.item_pks.tolist()) if items[pk].type == "single_choice"]
    if not cols:
        return []
    row_of = {a: i for i, a in enumerate(selection.attempt_ids.tolist())}
    col_of = {int(selection.item_pks[j]): k for k, j in enumerate(cols)}
    choices = np.full((selection.n_rows, len(cols)), None, dtype=object)
    attempts = selection.attempt_ids.tolist()
    for start in range(0, len(attempts), 2000):
        for attempt_id, item_pk, response in session.execute(
                select(Answer.attempt_id, Answer.item_pk, Answer.response)
                .where(Answer.attempt_id.in_(attempts[start:start + 2000]), Answer.item_pk.in_(list(col_of)))):
            if isinstance(response, dict) and isinstance(response.get("choice"), str):
                choices[row_of[attempt_id], col_of[item_pk]] = response["choice"]
    keep = np.array([any(v is not None for v in choices[:, k]) for k in range(len(cols))], dtype=bool)
    if not keep.any():
        return []
    cols = [j for j, k in zip(cols, keep, strict=True) if k]
    choices = choices[:, keep]
    keys = [items[int(selection.item_pks[j])].key for j in cols]
    table = distractor_counts(choices, keys, item_names=[selection.item_ids[j] for j in cols],
                              scores=np.nan_to_num(theta, nan=-99.0))
    rows = []
    for k, j in enumerate(cols):
        item = items[int(selection.item_pks[j])]
        for option in item.option_ids:
            o = table.options.index(option) if option in table.options else -1

            def pct(values: NDArray[np.float64] | None, o: int = o, k: int = k) -> float | None:
                if values is None:
                    return None
                return 0.0 if o < 0 else _num(100.0 * values[k, o])

            rows.append(DistractorRow(selection.item_ids[j], option, option == item.key,
                                      int(table.counts[k, o]) if o >= 0 else 0, pct(table.proportions),
                                      pct(table.upper_proportions), pct(table.lower_proportions)))
    return rows


def _flags(r: ItemRow) -> tuple[Flag, ...]:
    flags = []
    low = []
    if r.item_rest_r is not None and r.item_rest_r < MIN_ITEM_REST_R:
        low.append(f"r = {r.item_rest_r:.2f} < {MIN_ITEM_REST_R:.2f}")
    if r.a < MIN_SLOPE:
        low.append(f"a = {r.a:.2f} < {MIN_SLOPE}")
    if low:
        flags.append(Flag("low_discrimination", "; ".join(low)))
    misfit = []
    lo, hi = FIT_MS_RANGE
    for label, ms in (("infit", r.infit), ("outfit", r.outfit)):
        if ms is not None and not lo <= ms <= hi:
            misfit.append(f"{label} {ms:.2f} ∉ [{lo}, {hi}]")
    if r.s_x2_q is not None and r.s_x2_q < SX2_ALPHA:
        misfit.append(f"S-X2 = {r.s_x2:.1f}, df {r.s_x2_df:.0f}, p = {r.s_x2_p:.2g} (adjusted {r.s_x2_q:.2g}) "
                      f"< {SX2_ALPHA}")
    if misfit:
        flags.append(Flag("misfit", "; ".join(misfit)))
    dif = [f"{what} {cls}" for what, cls in (("gender", r.dif_gender), ("grade", r.dif_grade))
           if cls in DIF_FLAG_CLASSES]
    if dif:
        flags.append(Flag("dif", "; ".join(dif)))
    if r.drift is not None and abs(r.drift) > DRIFT_LOGITS:
        flags.append(Flag("drift", f"Δb = {r.drift:+.2f} > {DRIFT_LOGITS} logit"))
    return tuple(flags)


def _curves(params: ItemParameters) -> Curves:
    probs = category_probabilities(THETA_GRID, params)  # (Q, J, K)
    ncat = params.n_categories
    per_item = tuple(np.ascontiguousarray(probs[:, j, : int(ncat[j])].T) for j in range(params.n_items))
    info = item_information(THETA_GRID, params).T
    return Curves(THETA_GRID, per_item, info, info.sum(axis=0))


def analyse_run(session: Session, run_id: int, *, secret_key: str, progress: Progress | None = None) -> ItemAnalysis:
    """The item analysis of a done run (NotFound: no such run; Conflict: not done)."""
    step = progress or (lambda _name: None)
    run, pset = _done_run(session, run_id)
    step("reading responses")
    selection = select_responses(session, run.window.code, secret_key=secret_key, grade=run.selection.get("grade"))
    records = {r.item_pk: r for r in session.scalars(select(ItemParameterRecord).where(
        ItemParameterRecord.parameter_set_id == pset.id))}
    columns = [j for j, pk in enumerate(selection.item_pks.tolist()) if pk in records]
    if not columns:
        raise Conflict(f"calibration run {run_id}: none of the window's items has a value in its parameter set")
    pks = [int(selection.item_pks[j]) for j in columns]
    names = tuple(selection.item_ids[j] for j in columns)
    cells = selection.cells()[:, columns]
    keep_rows: NDArray[np.bool_] = np.asarray(~np.isnan(cells).all(axis=1), dtype=bool)
    if not keep_rows.all():
        cells = cells[keep_rows]
    sel = _subset(selection, keep_rows, np.array(columns))
    params = _parameters([records[pk] for pk in pks], names)
    item_recs = {r.pk: r for r in session.scalars(select(ItemRecord).where(ItemRecord.pk.in_(pks)))}
    items = {pk: item_from_record(rec) for pk, rec in item_recs.items()}
    anchors = np.array([item_recs[pk].anchor for pk in pks], dtype=bool)

    step("classical statistics")
    ctt = ctt_by_form(cells, sel.form_ids, sel.item_max)
    step("abilities and fit")
    theta = np.asarray(estimate_ability(cells, params, method="wle").theta, dtype=np.float64)
    fit = _item_fit(cells, params, theta, statistic="infit_outfit")
    groups = list(pset.groups or [])
    sx2, sx2_df, sx2_p = s_x2_by_form(cells, sel.form_ids, params, _latent_by_form(sel, groups))
    sx2_q = np.full(sx2_p.shape, np.nan)
    tested = np.isfinite(sx2_p)
    if tested.any():
        sx2_q[tested] = stats.false_discovery_control(sx2_p[tested], method="bh")
    step("DIF and distractors")
    dif = _dif(sel, cells, theta, anchors)
    distractors = _distractors(session, sel, items, theta)
    step("anchor drift")
    previous = _previous_set(session, run.window)
    drift = _drift(session, previous, params, pks, anchors) if previous is not None and previous.id != pset.id \
        else None

    dif_class = {(row.item_id, row.comparison): row.ets_class for row in dif}
    drift_of = dict(zip(drift.names, drift.delta.tolist(), strict=True)) if drift is not None else {}
    b = params.b
    rows = []
    for j, pk in enumerate(pks):
        rec, se = records[pk], records[pk].se or {}
        row = ItemRow(
            item_id=names[j], item_pk=pk, type=item_recs[pk].type, dimension=item_recs[pk].dimension,
            anchor=bool(anchors[j]), max_score=int(sel.item_max[j]), model=rec.model, fixed=bool(se.get("fixed")),
            n=int(ctt.n[j]), p_value=_num(ctt.p_value[j]), item_rest_r=_num(ctt.item_rest_r[j]),
            alpha_if_deleted=_num(ctt.alpha_if_deleted[j]), a=float(rec.a), se_a=_num(se.get("a")),
            d=tuple(float(v) for v in rec.d), se_d=tuple(_num(v) for v in (se.get("d") or [None] * len(rec.d))),
            b=tuple(float(v) for v in b[j][np.isfinite(b[j])]), c=float(rec.c or 0.0), se_c=_num(se.get("c")),
            infit=_num(fit.infit[j]) if fit.infit is not None else None,
            outfit=_num(fit.outfit[j]) if fit.outfit is not None else None,
            s_x2=_num(sx2[j]), s_x2_df=_num(sx2_df[j]), s_x2_p=_num(sx2_p[j]), s_x2_q=_num(sx2_q[j]),
            dif_gender=dif_class.get((names[j], "gender")), dif_grade=dif_class.get((names[j], "grade")),
            drift=_num(drift_of[names[j]]) if names[j] in drift_of else None)
        rows.append(replace(row, flags=_flags(row)))
    result = run.result or {}
    summary = Summary(
        run_id=run.id, name=run.name, window=run.window.code, academic_year=run.window.academic_year,
        grade=run.selection.get("grade"), model=str(run.settings.get("model")),
        models={m: params.model.count(m) for m in sorted(set(params.model))}, n_students=int(cells.shape[0]),
        n_items=len(pks), converged=bool(result.get("converged")), n_iter=int(result.get("n_iter", 0)),
        loglik=float(result.get("loglik", float("nan"))), aic=float(result.get("aic", float("nan"))),
        bic=float(result.get("bic", float("nan"))), groups=groups, form_alpha=ctt.form_alpha,
        n_now=selection.n_rows, n_then=int(run.selection.get("rows", selection.n_rows)),
        data_changed=(selection.n_rows != run.selection.get("rows", selection.n_rows)
                      or list(selection.item_ids) != list(run.selection.get("items", selection.item_ids))),
        previous_set=previous.name if previous is not None and previous.id != pset.id else None,
        drift_link=None if drift is None else {"A": drift.A, "B": drift.B, "anchors": drift.n_linking,
                                               "common": len(drift.names)},
        warnings=list(result.get("warnings") or []))
    ctt_forms = tuple((f, names[j], n, p, r, ad) for f, j, n, p, r, ad in ctt.rows)
    return ItemAnalysis(summary, tuple(rows), tuple(dif), tuple(distractors), ctt_forms, _curves(params), drift)


def _subset(selection: ResponseSelection, rows: NDArray[np.bool_], columns: NDArray[np.int64]) -> ResponseSelection:
    """The selection restricted to rows with a score in the analysed columns, and to those columns."""
    idx = np.flatnonzero(rows)
    return ResponseSelection(
        window_code=selection.window_code, form_id=selection.form_id, grade=selection.grade,
        attempt_ids=selection.attempt_ids[idx], attempts=tuple(selection.attempts[i] for i in idx),
        students=tuple(selection.students[i] for i in idx), schools=tuple(selection.schools[i] for i in idx),
        grades=selection.grades[idx], genders=tuple(selection.genders[i] for i in idx),
        form_ids=selection.form_ids[idx], imported=selection.imported[idx], item_pks=selection.item_pks[columns],
        item_ids=tuple(selection.item_ids[j] for j in columns), item_max=selection.item_max[columns],
        scores=selection.scores[np.ix_(idx, columns)], status=selection.status[np.ix_(idx, columns)])


def _drift(session: Session, previous: ParameterSet, params: ItemParameters, pks: list[int],
           anchors: NDArray[np.bool_]) -> Drift | None:
    """Displacement of the anchors this run and the previous year's set share (same model in both)."""
    prev = {r.item_pk: r for r in session.scalars(select(ItemParameterRecord).where(
        ItemParameterRecord.parameter_set_id == previous.id, ItemParameterRecord.item_pk.in_(pks)))}
    common = [j for j, pk in enumerate(pks) if anchors[j] and pk in prev and prev[pk].model == params.model[j]]
    if len(common) < 2:
        return None
    run_sub = params.take(common)
    prev_sub = _parameters([prev[pks[j]] for j in common], run_sub.item_names)
    return anchor_drift(run_sub, prev_sub)

