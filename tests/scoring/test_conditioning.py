"""Latent-regression plausible values: recovery of school means and grade gaps, interval coverage, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    ConditioningWarning,
    ConvergenceWarning,
    ItemParameters,
    ScoringInputError,
    estimate_ability,
    group_statistics,
    plausible_values,
)
from scoring.conditioning import conditioned_plausible_values, fit_population_model
from scoring.models import category_probabilities


def _simulate(rng: np.random.Generator, *, n_schools: int = 40, gap: float = 0.8, school_sd: float = 0.4,
              missing: float = 0.2):
    J = 22
    params = ItemParameters("2pl", rng.uniform(0.8, 1.8, J), rng.normal(0.0, 1.0, J))
    sizes = rng.integers(8, 90, n_schools)
    effects = rng.normal(0.0, school_sd, n_schools)
    school = np.repeat(np.arange(n_schools), sizes)
    grade = np.where(school < n_schools // 2, 5, 8)
    female = rng.integers(0, 2, school.size)
    theta = effects[school] + np.where(grade == 8, gap, 0.0) + 0.1 * female + rng.normal(0.0, 0.85, school.size)
    p = category_probabilities(theta, params)[:, :, 1]
    x = (rng.random(p.shape) < p).astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    cells = np.char.add(grade.astype(str), np.char.add("|", school.astype(str)))
    truth = effects + np.where(np.arange(n_schools) < n_schools // 2, 0.0, gap) + 0.05  # mean of the 0.1*female term
    return params, x, theta, school, grade, female, cells, truth


def test_school_means_and_grade_gap_are_recovered_with_honest_intervals() -> None:
    rng = np.random.default_rng(20261206)
    covered, total, gap_errors = 0, 0, []
    for rep in range(4):
        params, x, theta, school, grade, female, cells, truth = _simulate(rng)
        pv = conditioned_plausible_values(x, params, 5, cells=cells, covariates=female[:, None],
                                          variance_groups=grade, rng=rep)
        gs = group_statistics(pv.values, school)
        lo, hi = gs.mean_rubin.confidence_interval(0.95)
        covered += int(((lo <= truth) & (truth <= hi)).sum())
        total += truth.size
        gap_errors.append(pv.values[grade == 8].mean() - pv.values[grade == 5].mean()
                          - (theta[grade == 8].mean() - theta[grade == 5].mean()))
        assert pv.model.converged
        # PV means track each school's realised mean closely (no shrinkage towards the grade mean)
        realised = np.bincount(school, theta) / np.bincount(school)
        slope = np.polyfit(realised, gs.mean, 1)[0]
        assert 0.9 < slope < 1.1
    assert 0.90 <= covered / total <= 0.99, covered / total
    assert np.max(np.abs(gap_errors)) < 0.05


def test_unconditioned_plausible_values_and_eap_shrink_the_gap_conditioned_ones_do_not() -> None:
    rng = np.random.default_rng(7)
    params, x, theta, _school, grade, _female, cells, _ = _simulate(rng, gap=1.0, missing=0.5)
    true_gap = theta[grade == 8].mean() - theta[grade == 5].mean()
    pv = conditioned_plausible_values(x, params, 5, cells=cells, variance_groups=grade, rng=1)
    cond_gap = pv.values[grade == 8].mean() - pv.values[grade == 5].mean()
    eap = estimate_ability(x, params, "eap").theta
    eap_gap = eap[grade == 8].mean() - eap[grade == 5].mean()
    with pytest.warns(ConditioningWarning):  # one common prior: it says so
        common = plausible_values(x, params, 5, groups=None, rng=1).values
    common_gap = common[grade == 8].mean() - common[grade == 5].mean()
    assert abs(cond_gap - true_gap) < 0.05
    assert eap_gap < true_gap - 0.1
    assert common_gap < true_gap - 0.1


def test_population_sd_is_not_shrunk_by_small_cells() -> None:
    # many cells of 3: a fixed-effect ML variance would come out (n-C)/n = 2/3 too small
    rng = np.random.default_rng(3)
    J = 30
    params = ItemParameters("2pl", np.full(J, 1.5), np.linspace(-2, 2, J))
    cells = np.repeat(np.arange(2000), 3)
    theta = rng.normal(0.0, 0.5, 2000)[cells] + rng.normal(0.0, 0.8, cells.size)
    x = (rng.random((cells.size, J)) < category_probabilities(theta, params)[:, :, 1]).astype(float)
    model = fit_population_model(x, params, cells=cells)
    assert model.residual_sd[0] == pytest.approx(0.8, abs=0.05)


def test_cells_must_nest_in_variance_groups_and_inputs_are_checked() -> None:
    params = ItemParameters("2pl", np.ones(3), np.zeros(3))
    x = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1]], dtype=float)
    with pytest.raises(ScoringInputError, match="variance group"):
        fit_population_model(x, params, cells=["a", "a", "b"], variance_groups=[5, 8, 8])
    with pytest.raises(ScoringInputError, match="covariates"):
        fit_population_model(x, params, cells=["a", "a", "b"], covariates=np.ones((2, 1)))
    with pytest.raises(ScoringInputError, match="n_draws"):
        conditioned_plausible_values(x, params, 0, cells=["a", "a", "b"])


def test_a_tiny_cell_of_perfect_scores_stays_bounded() -> None:
    params = ItemParameters("2pl", np.ones(5), np.zeros(5))
    rng = np.random.default_rng(0)
    x = (rng.random((60, 5)) < 0.5).astype(float)
    x[:2] = 1.0
    cells = np.array(["top"] * 2 + ["rest"] * 58)
    pv = conditioned_plausible_values(x, params, 3, cells=cells, rng=0, max_iter=2000)
    assert np.all(np.isfinite(pv.values))
    assert np.all(np.abs(pv.model.cell_means) <= 5.0)


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), n_cells=st.integers(1, 6), draws=st.integers(2, 6))
def test_plausible_values_are_finite_and_shaped(seed: int, n_cells: int, draws: int) -> None:
    rng = np.random.default_rng(seed)
    J = int(rng.integers(3, 12))
    params = ItemParameters("2pl", rng.uniform(0.5, 2.0, J), rng.normal(0, 1, J))
    n = int(rng.integers(n_cells, 80))
    cells = rng.integers(0, n_cells, n)
    x = (rng.random((n, J)) < 0.6).astype(float)
    x[rng.random((n, J)) < 0.3] = np.nan
    x[np.isnan(x).all(axis=1), 0] = 1.0
    with warnings.catch_warnings():  # tiny random designs may converge slowly; the invariants hold regardless
        warnings.simplefilter("ignore", ConvergenceWarning)
        pv = conditioned_plausible_values(x, params, draws, cells=cells, rng=seed, max_iter=2000)
    assert pv.values.shape == (n, draws)
    assert np.all(np.isfinite(pv.values))
    assert np.all(pv.posterior_sd > 0)
    # persons of one cell share their prior
    for c in np.unique(cells):
        assert np.ptp(pv.model.prior_mean[cells == c]) < 1e-12
