"""The numeric steps of a calibration run's item analysis, on arrays (the numbers themselves come from scoring/).

Booklet designs shape every step: grade 5 and grade 8 (and rotated booklets)
sit different forms, so no statistic that needs everyone to answer every item
is computed over the whole matrix. Classical statistics and S-X2 are computed
per form (the items on it, the persons who sat it) and combined; Mantel–Haenszel
DIF matches persons on their WLE ability under the run's estimates (one scale
for every form) rounded to `DIF_BAND` logits, as scoring/dif.py advises for
rotated booklets; gender DIF matches within a form too, so it compares persons
who answered the same items.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from scoring import (
    ItemParameters,
    MantelHaenszelDIF,
    ScoringInputError,
    ctt_item_stats,
    dif_mantel_haenszel,
    item_fit,
    link,
    transform_parameters,
)

__all__ = ["DIF_BAND", "DRIFT_LOGITS", "CttByForm", "Drift", "anchor_drift", "ctt_by_form", "dif_by_ability",
           "item_locations", "s_x2_by_form"]

#: Width (logits) of the ability bands persons are matched in for Mantel–Haenszel DIF: the rounding
#: scoring/dif.py suggests for rotated booklets; fine enough that groups differing by 0.8 SD in mean
#: are compared at nearly equal ability within a band.
DIF_BAND = 0.25

#: An anchor drifted when its difficulty, after linking this run onto the previous year's scale, moved by
#: more than this many logits: the usual rule of thumb for displacement of Rasch/IRT anchors (Wright &
#: Douglas' 0.5 logit; also the TIMSS/PISA trend-item screening size), about half a typical item's SD of b.
DRIFT_LOGITS = 0.5


@dataclass(frozen=True)
class CttByForm:
    """Classical statistics combined over forms (n-weighted), and one row per form x item."""

    p_value: NDArray[np.float64]  # over every person the item was presented to
    item_rest_r: NDArray[np.float64]
    alpha_if_deleted: NDArray[np.float64]
    n: NDArray[np.int64]
    form_alpha: dict[int, float]
    rows: list[tuple[int, int, int, float, float, float]]  # form, column, n, p, item-rest r, alpha if deleted


def _weighted(values: list[tuple[float, int]]) -> float:
    good = [(v, n) for v, n in values if np.isfinite(v) and n > 0]
    if not good:
        return float("nan")
    return float(sum(v * n for v, n in good) / sum(n for _, n in good))


def ctt_by_form(cells: NDArray[np.float64], forms: NDArray[np.int64], item_max: NDArray[np.int64]) -> CttByForm:
    """p, corrected item-rest correlation and alpha-if-deleted per form, combined per item (n-weighted)."""
    n_items = cells.shape[1]
    observed = ~np.isnan(cells)
    n = observed.sum(axis=0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(observed, cells, 0.0).sum(axis=0) / n / item_max
    parts: list[list[tuple[float, float, int]]] = [[] for _ in range(n_items)]
    rows: list[tuple[int, int, int, float, float, float]] = []
    alphas: dict[int, float] = {}
    for form in np.unique(forms).tolist():
        on = forms == form
        cols = np.flatnonzero(observed[on].sum(axis=0) >= 2)
        if cols.size < 2 or on.sum() < 3:
            continue
        res = ctt_item_stats(cells[np.ix_(on, cols)], item_max[cols], missing="pairwise")
        alphas[int(form)] = res.alpha
        for k, j in enumerate(cols.tolist()):
            count = int(res.n_answered[k])
            parts[j].append((float(res.item_rest_r[k]), float(res.alpha_if_deleted[k]), count))
            rows.append((int(form), j, count, float(res.p_value[k]), float(res.item_rest_r[k]),
                         float(res.alpha_if_deleted[k])))
    r = np.array([_weighted([(v[0], v[2]) for v in part]) for part in parts])
    alpha_del = np.array([_weighted([(v[1], v[2]) for v in part]) for part in parts])
    return CttByForm(p, r, alpha_del, n, alphas, rows)


def _normal_weights(points: NDArray[np.float64], mean: float, sd: float) -> NDArray[np.float64]:
    w = stats.norm.pdf(points, mean, sd)
    return np.asarray(w / w.sum(), dtype=np.float64)


def s_x2_by_form(
    cells: NDArray[np.float64],
    forms: NDArray[np.int64],
    params: ItemParameters,
    latent: dict[int, tuple[float, float]],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Orlando–Thissen S-X2 per form (its complete cases, its group's latent distribution), summed over forms.

    S-X2 conditions on the total score, so it needs everyone in it to have answered the same items: each
    form is one such test. An item on several forms gets the sum of its per-form statistics and degrees of
    freedom (independent samples). `latent` maps each form to the (mean, sd) of the group that sat it.
    """
    n_items = cells.shape[1]
    stat, df = np.zeros(n_items), np.zeros(n_items)
    seen = np.zeros(n_items, dtype=bool)
    points = np.linspace(-6.0, 6.0, 61)
    for form in np.unique(forms).tolist():
        on = forms == form
        cols = np.flatnonzero((~np.isnan(cells[on])).any(axis=0))
        x = cells[np.ix_(on, cols)]
        if cols.size < 3 or not (~np.isnan(x).any(axis=1)).any():
            continue
        mean, sd = latent.get(int(form), (0.0, 1.0))
        try:
            fit = item_fit(x, params.take(cols), statistic="s_x2", quadrature_points=points,
                           quadrature_weights=_normal_weights(points, mean, sd))
        except ScoringInputError:
            continue  # e.g. a category nobody in this form reached: the form is left out of S-X2
        assert fit.s_x2 is not None and fit.df is not None
        ok = np.isfinite(fit.s_x2) & (fit.df > 0)
        stat[cols[ok]] += fit.s_x2[ok]
        df[cols[ok]] += fit.df[ok]
        seen[cols[ok]] = True
    with np.errstate(invalid="ignore"):
        pvalue = np.where(seen & (df > 0), stats.chi2.sf(stat, np.maximum(df, 1.0)), np.nan)
    return np.where(seen, stat, np.nan), np.where(seen, df, np.nan), pvalue


def dif_by_ability(
    cells: NDArray[np.float64],
    labels: NDArray[np.str_],
    focal: str,
    reference: str,
    theta: NDArray[np.float64],
    *,
    forms: NDArray[np.int64] | None = None,
    item_names: tuple[str, ...],
) -> MantelHaenszelDIF | None:
    """Mantel–Haenszel DIF matched on ability bands (and on the form, when `forms` is given); None without both groups."""
    if not (labels == focal).any() or not (labels == reference).any():
        return None
    band = np.round(np.nan_to_num(theta, nan=0.0) / DIF_BAND)
    matching = band if forms is None else (np.unique(forms, return_inverse=True)[1].reshape(-1) * 1000 + band)
    try:
        return dif_mantel_haenszel(cells, labels, focal, reference, matching=matching, item_names=item_names)
    except ScoringInputError:
        return None


def item_locations(params: ItemParameters) -> NDArray[np.float64]:
    """Each item's difficulty (b), the mean of its thresholds for a polytomous item."""
    return np.asarray(np.nanmean(params.b, axis=1), dtype=np.float64)


@dataclass(frozen=True)
class Drift:
    """Anchor displacement after linking the run onto the previous year's set (Stocking–Lord, purified)."""

    names: tuple[str, ...]  # the common anchors compared
    b_run: NDArray[np.float64]  # on the previous scale, after linking
    b_previous: NDArray[np.float64]
    delta: NDArray[np.float64]
    drifted: NDArray[np.bool_]
    A: float
    B: float
    n_linking: int  # anchors the final link rests on (the drifted ones left out)


def anchor_drift(run: ItemParameters, previous: ItemParameters) -> Drift | None:
    """Link `run` onto `previous` through their common items and measure each one's displacement.

    Stocking–Lord on every common anchor first; anchors displaced by more than `DRIFT_LOGITS` are then
    left out of the link and it is repeated until the set of linking anchors no longer changes (the
    iterative purification of drift screening), so one drifted anchor does not pull the others off.
    `run` and `previous` hold only the common items, in the same order. None when fewer than two remain.
    """
    if run.n_items < 2:
        return None
    keep = np.ones(run.n_items, dtype=bool)
    b_prev = item_locations(previous)
    for _ in range(run.n_items):
        res = link(run.take(keep), previous.take(keep), method="stocking-lord")
        b_run = item_locations(transform_parameters(run, res.A, res.B))
        delta = b_run - b_prev
        drifted = np.abs(delta) > DRIFT_LOGITS
        if np.array_equal(~drifted, keep) or (~drifted).sum() < 2:
            break
        keep = ~drifted
    return Drift(run.item_names, b_run, b_prev, delta, drifted, float(res.A), float(res.B), int(keep.sum()))
