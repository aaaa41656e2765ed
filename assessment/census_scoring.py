"""Score a census response matrix: abilities, scale scores, levels, dimension profiles, plausible values.

Pure numpy on top of `scoring/`; the database work is in `results.py`.
- The reported theta is the WLE (Warm, 1989): it depends on the student's own
  answers only, not on their grade or school, and is nearly unbiased; the EAP
  (prior = the student's grade population) is stored beside it.
- Plausible values are drawn from a latent regression on grade x school cells
  with gender as a covariate and one residual SD per grade
  (:func:`scoring.conditioning.conditioned_plausible_values`), so group
  statistics of schools, districts, school attributes, grades and genders are
  not shrunk.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from scoring import AbilityEstimates, ItemParameters, estimate_ability
from scoring.conditioning import PopulationModel, conditioned_plausible_values

from .reporting_config import ReportingConfig
from .response_matrix import ResponseMatrix

__all__ = ["DIMENSIONS", "StudentResults", "base_from_plausible_values", "score_students"]

DIMENSIONS = ("D1", "D2", "D3", "D4")
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class StudentResults:
    """Per scored student (rows of `keep` in the matrix): thetas, scale, level, profile, PVs."""

    keep: NDArray[np.bool_]  # matrix rows that were scored (at least one scored item answered)
    eap: F64
    eap_se: F64
    wle: F64
    wle_se: F64
    scale: F64
    scale_se: F64
    level_index: NDArray[np.int64]
    dimensions: F64  # (n, 4) percent of max score, NaN without items of the dimension
    pvs: F64  # (n, M) theta
    pv_scale: F64  # (n, M) reporting scale
    model: PopulationModel
    base_mean: float
    base_sd: float


def dimension_profile(scores: F64, item_max: NDArray[np.int64], dims: tuple[str, ...]) -> F64:
    """Percent of the maximum score per CT dimension over the items presented (NaN scores are left out)."""
    got = np.nan_to_num(scores)
    possible = np.where(np.isnan(scores), 0.0, item_max[None, :].astype(np.float64))
    out = np.full((scores.shape[0], len(DIMENSIONS)), np.nan)
    for k, d in enumerate(DIMENSIONS):
        cols = np.array([x == d for x in dims], dtype=bool)
        if not cols.any():
            continue
        den = possible[:, cols].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, k] = np.where(den > 0, 100.0 * got[:, cols].sum(axis=1) / den, np.nan)
    return out


_MAX_FORMS = 32


def _estimate_by_form(
    x: F64, params: ItemParameters, method: Literal["eap", "wle"], prior_mean: F64 | None = None,
    prior_sd: F64 | None = None,
) -> AbilityEstimates:
    """`estimate_ability` per pattern of presented items (a booklet), on those items only.

    The same estimates, without computing every student's likelihood over the items of
    the other grade's and the other booklet's forms (half the window's columns).
    Arbitrary patterns (e.g. imported scores with gaps) are scored in one call.
    """
    n = x.shape[0]
    mu = np.zeros(n) if prior_mean is None else prior_mean
    sd = np.ones(n) if prior_sd is None else prior_sd
    missing = np.isnan(x)
    patterns, which = np.unique(np.packbits(missing, axis=1), axis=0, return_inverse=True)
    if patterns.shape[0] > _MAX_FORMS:
        return estimate_ability(x, params, method, prior_mean=mu, prior_sd=sd)
    which = which.ravel()
    theta, se = np.empty(n), np.empty(n)
    n_responses, extreme = np.empty(n, dtype=np.int64), np.empty(n, dtype=bool)
    for p in range(patterns.shape[0]):
        rows = np.flatnonzero(which == p)
        cols = np.flatnonzero(~missing[rows[0]])
        if cols.size == 0:
            cols = np.arange(x.shape[1])
        est = estimate_ability(x[np.ix_(rows, cols)], params.take(cols), method, prior_mean=mu[rows],
                               prior_sd=sd[rows])
        theta[rows], se[rows], n_responses[rows], extreme[rows] = est.theta, est.se, est.n_responses, est.extreme
    return AbilityEstimates(theta=theta, se=se, method=method, n_responses=n_responses, extreme=extreme)


def base_from_plausible_values(pvs: F64, members: NDArray[np.bool_]) -> tuple[float, float]:
    """The base cohort's theta mean and SD: averages over plausible values of their mean and SD."""
    v = pvs[members]
    if v.shape[0] < 2:
        raise ValueError("the base cohort needs at least two scored students")
    return float(v.mean(axis=0).mean()), float(v.std(axis=0, ddof=1).mean())


def score_students(
    matrix: ResponseMatrix,
    params: ItemParameters,
    columns: NDArray[np.int64],
    config: ReportingConfig,
    *,
    base: tuple[float, float] | None,
    base_is_this_window: bool,
    seed: int,
    progress: Callable[[str], None] = lambda step: None,
) -> StudentResults:
    """Score every student of `matrix` on the items in `columns` (aligned with `params`).

    `base` is the base cohort's (theta mean, SD); with `base_is_this_window`
    and no `base`, this window's base-grade plausible values define it.
    """
    x_all = matrix.for_scoring(config.not_reached)[:, columns]
    keep: NDArray[np.bool_] = np.asarray(~np.isnan(x_all).all(axis=1), dtype=bool)
    x = x_all[keep]
    grades = matrix.grades[keep]
    genders = matrix.genders[keep]
    cells = np.char.add(np.char.add(grades.astype(str), "|"), matrix.school_ids[keep].astype(str))
    codes = np.unique(genders)
    covariates = (genders[:, None] == codes[None, 1:]).astype(np.float64) if codes.size > 1 else None

    progress("plausible values")
    pv = conditioned_plausible_values(x, params, config.plausible_values, cells=cells, covariates=covariates,
                                      variance_groups=grades, rng=np.random.default_rng(seed))
    progress("abilities")
    prior_mean = np.empty(x.shape[0])
    prior_sd = np.empty(x.shape[0])
    for g in np.unique(grades):
        mean, sd = pv.model.marginal(grades == g)
        prior_mean[grades == g] = mean
        prior_sd[grades == g] = sd
    eap = _estimate_by_form(x, params, "eap", prior_mean=prior_mean, prior_sd=prior_sd)
    wle = _estimate_by_form(x, params, "wle")

    if base is None:
        if not base_is_this_window:
            raise ValueError("the base cohort's mean and SD are unknown")
        base = base_from_plausible_values(pv.values, grades == config.base_grade)
    base_mean, base_sd = base
    scale = config.scale(base_mean, base_sd)
    scores = scale.scores(wle.theta)
    levels = scale.levels(scores)
    dims = dimension_profile(x, matrix.item_max[columns], tuple(matrix.item_dimensions[c] for c in columns))
    return StudentResults(
        keep=keep,
        eap=eap.theta,
        eap_se=eap.se,
        wle=wle.theta,
        wle_se=wle.se,
        scale=scores,
        scale_se=scale.standard_errors(wle.se),
        level_index=levels.index,
        dimensions=dims,
        pvs=pv.values,
        pv_scale=scale.scores(pv.values),
        model=pv.model,
        base_mean=float(base_mean),
        base_sd=float(base_sd),
    )
