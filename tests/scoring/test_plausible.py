"""Tests for scoring.plausible (plausible values, Rubin's rules, group statistics)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scoring.errors import ConditioningWarning, ScoringInputError
from scoring.models import ItemParameters, category_probabilities
from scoring.plausible import (
    _sample_histogram,
    combine_rubin,
    group_statistics,
    plausible_values,
)


def _simulate(rng: np.random.Generator, theta: np.ndarray, params: ItemParameters) -> np.ndarray:
    p = category_probabilities(theta, params)  # (n, J, K)
    cdf = np.cumsum(p, axis=2)
    u = rng.random(p.shape[:2])[:, :, None]
    return (u > cdf).sum(axis=2).astype(float)


def _params(rng: np.random.Generator, J: int = 20) -> ItemParameters:
    return ItemParameters(model="2pl", a=rng.uniform(0.8, 2.0, J), d=rng.normal(0, 1.0, J))


def _common_prior_pvs(*args, **kwargs):  # type: ignore[no-untyped-def]
    """plausible_values with groups=None on purpose (whole-population statistics): it must warn."""
    with pytest.warns(ConditioningWarning, match="conditioned_plausible_values"):
        return plausible_values(*args, groups=None, **kwargs)


# ---------------------------------------------------------------- Rubin


def test_rubin_hand_computed() -> None:
    # Q = 10, 12, 11, 13, 9 -> Q_bar 11, B = (1+1+0+4+4)/4 = 2.5; U_bar = 1.0
    # T = 1 + (1 + 1/5) 2.5 = 4.0; r = 3/1; df = 4 (1 + 1/3)^2 = 64/9; fmi = 3/4
    res = combine_rubin([10, 12, 11, 13, 9], [1.0, 1.2, 0.8, 1.0, 1.0])
    assert res.estimate == pytest.approx(11.0)
    assert res.within_variance == pytest.approx(1.0)
    assert res.between_variance == pytest.approx(2.5)
    assert res.total_variance == pytest.approx(4.0)
    assert res.se == pytest.approx(2.0)
    assert res.df == pytest.approx(64 / 9)
    assert res.fraction_missing == pytest.approx(0.75)
    assert res.n_imputations == 5
    lo, hi = res.confidence_interval(0.95)
    from scipy import stats

    q = stats.t.ppf(0.975, 64 / 9)
    assert (lo, hi) == pytest.approx((11 - 2 * q, 11 + 2 * q))


def test_rubin_vectorized_and_no_between_variance() -> None:
    est = np.array([[1.0, 2.0], [1.0, 4.0]])
    var = np.array([[0.5, 0.1], [0.5, 0.3]])
    res = combine_rubin(est, var)
    np.testing.assert_allclose(res.estimate, [1.0, 3.0])
    np.testing.assert_allclose(res.total_variance, [0.5, 0.2 + 1.5 * 2.0])
    assert np.isinf(res.df[0]) and res.fraction_missing[0] == 0.0
    with pytest.raises(ScoringInputError, match="M >= 2"):
        combine_rubin([1.0], [1.0])
    with pytest.raises(ScoringInputError, match="variances"):
        combine_rubin([1.0, 2.0], [1.0])
    with pytest.raises(ScoringInputError, match="negative"):
        combine_rubin([1.0, 2.0], [1.0, -1.0])


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(2, 10), st.integers(1, 4)), elements=st.floats(-100, 100)),
    arrays(np.float64, st.tuples(st.integers(2, 10), st.integers(1, 4)), elements=st.floats(0, 50)),
)
def test_rubin_invariants(est: np.ndarray, var: np.ndarray) -> None:
    m = min(len(est), len(var))
    k = min(est.shape[1], var.shape[1])
    est, var = est[:m, :k], var[:m, :k]
    res = combine_rubin(est, var)
    assert np.all(res.total_variance >= res.within_variance - 1e-9)
    assert np.all(res.df > 0)
    # order of imputations does not matter
    res2 = combine_rubin(est[::-1], var[::-1])
    np.testing.assert_allclose(res2.total_variance, res.total_variance, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- sampler


def test_histogram_sampler_is_exact_inverse_cdf() -> None:
    grid = np.linspace(-1.0, 1.0, 5)  # step 0.5, cells [-1.25, 1.25]
    post = np.full((1, 5), 0.2)
    u = np.array([[0.0, 0.1, 0.5, 0.95, 0.999999]])
    draws = _sample_histogram(post, grid, 0.5, u)
    np.testing.assert_allclose(draws, -1.25 + 2.5 * u, atol=1e-9)
    # a point mass on node 3 gives draws within its cell only
    post = np.zeros((2, 5))
    post[:, 3] = 1.0
    d = _sample_histogram(post, grid, 0.5, np.random.default_rng(0).random((2, 100)))
    assert np.all((d >= 0.25) & (d <= 0.75))


# ---------------------------------------------------------------- plausible values


def test_pvs_reproduce_population_mean_and_sd_unlike_eap() -> None:
    rng = np.random.default_rng(42)
    n, mu, sigma = 5000, 0.4, 1.2
    theta = rng.normal(mu, sigma, n)
    params = _params(rng, 15)
    x = _simulate(rng, theta, params)
    x[rng.random(x.shape) < 0.2] = np.nan  # 20 % missing at random
    pv = _common_prior_pvs(x, params, n_draws=5, rng=1)
    assert pv.values.shape == (n, 5)
    assert pv.estimated and pv.n_iter > 0
    # population model estimated by EM: within 0.05 of the truth (sampling SE ~0.02)
    assert pv.group_means[0] == pytest.approx(mu, abs=0.05)
    assert pv.group_sds[0] == pytest.approx(sigma, abs=0.05)
    # PV moments reproduce the population: tolerance 0.05 (sampling SE ~0.02)
    assert pv.values.mean() == pytest.approx(theta.mean(), abs=0.05)
    np.testing.assert_allclose(pv.values.std(axis=0), theta.std(), atol=0.05)
    # EAP shrinks: its SD is clearly smaller than the true SD
    assert pv.posterior_mean.std() < theta.std() - 0.1
    # law of total variance: Var(EAP) + E(posterior var) ~ Var(PV)
    assert pv.posterior_mean.var() + np.mean(pv.posterior_sd**2) == pytest.approx(pv.values.var(), rel=0.05)


def test_group_conditioning_keeps_group_differences() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    grade = np.repeat(np.array([5, 8]), n)
    theta = np.where(grade == 5, rng.normal(0.0, 1.0, 2 * n), rng.normal(1.0, 1.1, 2 * n))
    params = _params(rng, 10)  # a short test: strong shrinkage
    x = _simulate(rng, theta, params)
    pv = plausible_values(x, params, n_draws=5, groups=grade, rng=3)
    assert pv.group_labels == (5, 8)
    np.testing.assert_allclose(pv.group_means, [0.0, 1.0], atol=0.07)
    np.testing.assert_allclose(pv.group_sds, [1.0, 1.1], atol=0.07)
    diff_cond = pv.values[grade == 8].mean() - pv.values[grade == 5].mean()
    assert diff_cond == pytest.approx(1.0, abs=0.07)
    pooled = _common_prior_pvs(x, params, n_draws=5, rng=3)
    diff_pooled = pooled.values[grade == 8].mean() - pooled.values[grade == 5].mean()
    assert diff_pooled < diff_cond - 0.05  # a common prior shrinks group differences
    # given (fixed) population parameters are used as they are
    fixed = plausible_values(x, params, 2, groups=grade, group_means={5: 0.0, 8: 1.0}, group_sds=[1.0, 1.1], rng=0)
    assert not fixed.estimated and fixed.n_iter == 0
    np.testing.assert_array_equal(fixed.group_means, [0.0, 1.0])


def test_conditioning_is_explicit_and_a_common_prior_warns() -> None:
    """Issue 12.7: without groups= every person was drawn under one common prior, silently.

    A 0.5 grade gap came out 0.44 and its 95 % intervals covered 44 % of the time. `groups` is
    now required; groups=None (one common prior, for whole-population statistics) warns loudly.
    """
    import warnings

    rng = np.random.default_rng(21)
    n = 2000
    grade = np.repeat(np.array([5, 8]), n)
    theta = np.where(grade == 5, rng.normal(0.0, 1.0, 2 * n), rng.normal(0.5, 1.0, 2 * n))
    params = _params(rng, 10)
    x = _simulate(rng, theta, params)
    with pytest.raises(TypeError, match="groups"):
        plausible_values(x, params, 5, rng=0)  # type: ignore[call-arg]
    with pytest.warns(ConditioningWarning) as caught:
        common = plausible_values(x, params, 5, groups=None, rng=0)
    message = str(caught[0].message)
    assert "biased towards the common mean" in message and "conditioned_plausible_values" in message
    assert issubclass(ConditioningWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conditioned = plausible_values(x, params, 5, groups=grade, rng=0)
    true_gap = theta[grade == 8].mean() - theta[grade == 5].mean()

    def gap(values: np.ndarray) -> float:
        return float(values[grade == 8].mean() - values[grade == 5].mean())

    assert gap(conditioned.values) == pytest.approx(true_gap, abs=0.06)
    assert gap(common.values) < true_gap - 0.04  # what the warning is about


def test_pvs_polytomous_and_empty_rows() -> None:
    rng = np.random.default_rng(9)
    params = ItemParameters(
        model=("2pl", "grm", "gpcm", "3pl"),
        a=np.array([1.2, 1.0, 0.9, 1.5]),
        d=np.array([[0.2, np.nan], [1.0, -0.5], [0.3, -0.2], [-0.5, np.nan]]),
        c=np.array([0, 0, 0, 0.2]),
    )
    theta = rng.normal(size=400)
    x = _simulate(rng, theta, params)
    x[:50] = np.nan  # persons who answered nothing: draws come from the prior
    pv = _common_prior_pvs(x, params, n_draws=10, group_means=0.0, group_sds=1.0, rng=rng)
    empty = pv.values[:50].ravel()
    assert empty.mean() == pytest.approx(0.0, abs=0.15)
    assert empty.std() == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(pv.posterior_mean[:50], 0.0, atol=1e-6)
    np.testing.assert_allclose(pv.posterior_sd[:50], 1.0, atol=1e-3)


def test_pvs_reproducible_with_seed() -> None:
    rng = np.random.default_rng(10)
    params = _params(rng, 6)
    x = _simulate(rng, rng.normal(size=200), params)
    a = _common_prior_pvs(x, params, 3, rng=5, group_means=0.0, group_sds=1.0)
    b = _common_prior_pvs(x, params, 3, rng=5, group_means=0.0, group_sds=1.0)
    np.testing.assert_array_equal(a.values, b.values)
    # permuting persons permutes the posterior moments
    perm = rng.permutation(200)
    c = _common_prior_pvs(x[perm], params, 3, rng=5, group_means=0.0, group_sds=1.0)
    np.testing.assert_allclose(c.posterior_mean, a.posterior_mean[perm], atol=1e-12)


def test_pv_mapping_priors_without_groups_use_label_all() -> None:
    # regression: a mapping keyed by the documented label "all" raised TypeError without groups
    rng = np.random.default_rng(12)
    params = _params(rng, 6)
    x = _simulate(rng, rng.normal(size=120), params)
    via_map = _common_prior_pvs(x, params, 3, group_means={"all": 0.3}, group_sds={"all": 1.1}, rng=4)
    via_scalar = _common_prior_pvs(x, params, 3, group_means=0.3, group_sds=1.1, rng=4)
    assert via_map.group_labels == ("all",)
    np.testing.assert_array_equal(via_map.group_means, [0.3])
    np.testing.assert_array_equal(via_map.group_sds, [1.1])
    assert not via_map.estimated
    np.testing.assert_array_equal(via_map.values, via_scalar.values)
    with pytest.raises(ScoringInputError, match=r"group_means: no value for group\(s\) \['all'\]"):
        plausible_values(x, params, 3, groups=None, group_means={"grade5": 0.3}, group_sds={"all": 1.1})


def test_pv_bad_input() -> None:
    params = ItemParameters(model="2pl", a=[1.0, 1.0], d=[0.0, 0.0])
    x = np.array([[0, 1], [1, 1]], dtype=float)
    with pytest.raises(ScoringInputError, match="columns"):
        plausible_values(x[:, :1], params, groups=None)
    with pytest.raises(ScoringInputError, match="row 0, column 1"):
        plausible_values(np.array([[0, 2.0]]), params, groups=None)
    with pytest.raises(ScoringInputError, match="n_draws"):
        plausible_values(x, params, n_draws=0, groups=None)
    with pytest.raises(ScoringInputError, match="both or neither"):
        plausible_values(x, params, groups=None, group_means=0.0)
    with pytest.raises(ScoringInputError, match="groups"):
        plausible_values(x, params, groups=["a"])
    with pytest.raises(ScoringInputError, match="group_sds"):
        plausible_values(x, params, groups=["a", "b"], group_means=[0, 1], group_sds={"a": 1.0})


# ---------------------------------------------------------------- group statistics


def test_group_statistics_hand_combination() -> None:
    rng = np.random.default_rng(11)
    n, M = 400, 5
    pvs = rng.normal(500, 100, size=(n, M))
    school = np.where(np.arange(n) < 150, "A", "B")
    cuts, labels = [420, 510, 600], ["萌芽", "基礎", "精熟", "進階"]
    gs = group_statistics(pvs, school, cuts, labels)
    assert gs.groups == ("A", "B")
    assert gs.n.tolist() == [150, 250]
    assert gs.level_labels == tuple(labels)
    # group A by hand: per-PV mean and SRS variance, then Rubin
    a = pvs[:150]
    means = a.mean(axis=0)
    var_means = a.var(axis=0, ddof=1) / 150
    qbar, ubar, b = means.mean(), var_means.mean(), means.var(ddof=1)
    assert gs.mean[0] == pytest.approx(qbar)
    assert gs.mean_se[0] == pytest.approx(np.sqrt(ubar + 1.2 * b))
    assert gs.sd[0] == pytest.approx(a.std(axis=0, ddof=1).mean())
    # percent at level 進階 (>= 600) per PV, then Rubin
    p = (a >= 600).mean(axis=0)
    assert gs.percent is not None and gs.percent_se is not None
    assert gs.percent[0, 3] == pytest.approx(100 * p.mean())
    se = np.sqrt(np.mean(1e4 * p * (1 - p) / 150) + 1.2 * np.var(100 * p, ddof=1))
    assert gs.percent_se[0, 3] == pytest.approx(se)
    np.testing.assert_allclose(gs.percent.sum(axis=1), 100.0)
    # SD: delta-method SRS variance (m4 - m2^2) / (4 n m2) per PV, then Rubin
    bb = pvs[150:]
    dev = bb - bb.mean(axis=0)
    m2, m4 = (dev**2).mean(axis=0), (dev**4).mean(axis=0)
    sds = bb.std(axis=0, ddof=1)
    assert gs.sd_se[1] == pytest.approx(np.sqrt(np.mean((m4 - m2**2) / (4 * 250 * m2)) + 1.2 * sds.var(ddof=1)))
    # for normal data the sampling part is close to sigma^2 / (2n)
    assert np.mean((m4 - m2**2) / (4 * 250 * m2)) == pytest.approx(100**2 / (2 * 250), rel=0.3)
    # census mode: no sampling variance, only imputation variance
    census = group_statistics(pvs, school, cuts, labels, sampling="none")
    assert census.mean_se[0] == pytest.approx(np.sqrt(1.2 * b))


def test_group_statistics_pv_vs_eap_end_to_end() -> None:
    rng = np.random.default_rng(12)
    theta = rng.normal(0, 1, 3000)
    params = _params(rng, 12)
    x = _simulate(rng, theta, params)
    pv = _common_prior_pvs(x, params, 5, group_means=0.0, group_sds=1.0, rng=0)
    gs = group_statistics(500 + 100 * pv.values, cuts=[400, 500, 600])
    assert gs.groups == ("all",)
    true_pct = 100 * np.array([(theta < -1).mean(), ((theta >= -1) & (theta < 0)).mean(), ((theta >= 0) & (theta < 1)).mean(), (theta >= 1).mean()])
    assert gs.percent is not None
    # PV-based level percentages match the true ones within 3 points
    np.testing.assert_allclose(gs.percent[0], true_pct, atol=3.0)
    assert gs.sd[0] == pytest.approx(100 * theta.std(), abs=5.0)
    assert gs.mean_rubin.fraction_missing[0] > 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(10, 60), st.integers(2, 6))
def test_group_statistics_permutation_invariant(seed: int, n: int, M: int) -> None:
    rng = np.random.default_rng(seed)
    pvs = rng.normal(size=(n, M))
    g = rng.integers(0, 3, n)
    a = group_statistics(pvs, g, cuts=[-0.5, 0.5])
    perm = rng.permutation(n)
    b = group_statistics(pvs[perm], g[perm], cuts=[-0.5, 0.5])
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(a.sd_se, b.sd_se, atol=1e-12, equal_nan=True)
    assert a.percent is not None and b.percent is not None
    np.testing.assert_allclose(a.percent, b.percent, atol=1e-12, equal_nan=True)


def test_group_statistics_minimum_cell_suppression() -> None:
    rng = np.random.default_rng(13)
    pvs = rng.normal(size=(30, 5))
    g = np.array(["big"] * 25 + ["tiny"] * 5)
    gs = group_statistics(pvs, g, cuts=[0.0], min_n=10)
    assert gs.suppressed.tolist() == [False, True]
    assert np.isfinite(gs.mean[0]) and np.isnan(gs.mean[1]) and np.isnan(gs.sd_se[1])
    assert gs.percent is not None and np.all(np.isnan(gs.percent[1])) and np.all(np.isfinite(gs.percent[0]))
    assert gs.n.tolist() == [25, 5]
    with pytest.raises(ScoringInputError, match="min_n"):
        group_statistics(pvs, g, min_n=-1)


def test_group_statistics_bad_input() -> None:
    with pytest.raises(ScoringInputError, match="M >= 2"):
        group_statistics(np.zeros((5, 1)))
    with pytest.raises(ScoringInputError, match="groups"):
        group_statistics(np.zeros((5, 2)), groups=[1, 2])
    with pytest.raises(ScoringInputError, match="sampling"):
        group_statistics(np.zeros((5, 2)), sampling="jackknife")  # type: ignore[arg-type]


def test_posterior_moments_agree_with_eap_scoring() -> None:
    """Same N(0, 1) prior: PV posterior mean/SD equal scoring.ability's EAP/SE (different grids; measured 1e-6, tol 1e-4)."""
    from scoring.ability import estimate_ability

    rng = np.random.default_rng(14)
    params = ItemParameters(
        model=("2pl",) * 6 + ("grm", "gpcm", "3pl"),
        a=rng.uniform(0.8, 1.8, 9),
        d=np.vstack([np.column_stack([rng.normal(0, 1, 6), np.full((6, 1), np.nan)]), [[1.0, -0.7], [0.3, -0.4], [0.2, np.nan]]]),
        c=np.r_[np.zeros(8), 0.2],
    )
    x = _simulate(rng, rng.normal(size=500), params)
    x[rng.random(x.shape) < 0.1] = np.nan
    pv = _common_prior_pvs(x, params, 2, group_means=0.0, group_sds=1.0, rng=0)
    eap = estimate_ability(x, params, method="eap")
    np.testing.assert_allclose(pv.posterior_mean, eap.theta, atol=1e-4)
    np.testing.assert_allclose(pv.posterior_sd, eap.se, atol=1e-4)
