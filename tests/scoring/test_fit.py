"""Tests for scoring.fit (infit/outfit, S-X2, Lord-Wingersky)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from scoring.errors import ScoringInputError
from scoring.fit import item_fit, summed_score_distribution
from scoring.models import ItemParameters, category_probabilities

QUAD = np.linspace(-6, 6, 61)
QW = np.exp(-0.5 * QUAD**2) / np.exp(-0.5 * QUAD**2).sum()


def _simulate(rng: np.random.Generator, theta: np.ndarray, params: ItemParameters) -> np.ndarray:
    p = category_probabilities(theta, params)
    u = rng.random(p.shape[:2])[:, :, None]
    return (u > np.cumsum(p, axis=2)).sum(axis=2).astype(float)


def _mixed() -> ItemParameters:
    return ItemParameters(
        model=("2pl", "3pl", "grm", "gpcm"),
        a=np.array([1.2, 0.8, 1.5, 0.7]),
        d=np.array([[0.3, np.nan, np.nan], [-0.5, np.nan, np.nan], [1.0, 0.0, -1.2], [0.4, -0.3, np.nan]]),
        c=np.array([0.0, 0.2, 0.0, 0.0]),
    )


# ---------------------------------------------------------------- Lord-Wingersky


def test_lord_wingersky_matches_brute_force_enumeration() -> None:
    params = _mixed()
    theta = np.array([-1.3, 0.0, 0.7, 2.5])
    dist = summed_score_distribution(theta, params)
    p = category_probabilities(theta, params)
    ncat = params.n_categories
    brute = np.zeros((theta.size, int((ncat - 1).sum()) + 1))
    for pattern in itertools.product(*[range(k) for k in ncat]):
        prob = np.prod([p[:, j, k] for j, k in enumerate(pattern)], axis=0)
        brute[:, sum(pattern)] += prob
    np.testing.assert_allclose(dist, brute, atol=1e-14)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    sub = summed_score_distribution(theta, params, items=[0, 2])
    assert sub.shape == (4, 5)  # item 0 (max 1) + GRM item 2 (max 3)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_lord_wingersky_mean_is_test_characteristic_curve(seed: int, J: int) -> None:
    rng = np.random.default_rng(seed)
    params = ItemParameters(model="2pl", a=rng.uniform(0.3, 2.5, J), d=rng.normal(0, 1.5, J))
    theta = rng.normal(0, 2, 5)
    dist = summed_score_distribution(theta, params)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(dist @ np.arange(J + 1), category_probabilities(theta, params)[:, :, 1].sum(axis=1), atol=1e-10)


# ---------------------------------------------------------------- S-X2


def test_s_x2_well_fitting_items_give_uniform_p_values() -> None:
    """Under the true model p-values are ~U(0, 1): pooled over replications, KS p > 0.01."""
    rng = np.random.default_rng(2024)
    J, n = 10, 1000
    pvals = []
    for _ in range(12):
        params = ItemParameters(model="2pl", a=rng.uniform(0.7, 2.0, J), d=rng.normal(0, 1, J))
        x = _simulate(rng, rng.normal(size=n), params)
        # parameters are the generating ones (not estimated): df subtracts nothing
        pvals.append(item_fit(x, params, n_parameters=np.zeros(J)).p_value)
    pv = np.concatenate(pvals)
    assert np.all(np.isfinite(pv))
    assert stats.kstest(pv, "uniform").pvalue > 0.01
    assert np.mean(pv < 0.05) < 0.12  # nominal 5 %


def test_s_x2_flags_misfitting_item() -> None:
    rng = np.random.default_rng(5)
    J, n = 15, 3000
    a = rng.uniform(0.8, 1.8, J)
    d = rng.normal(0, 1, J)
    params = ItemParameters(model="2pl", a=a, d=d)
    theta = rng.normal(size=n)
    x = _simulate(rng, theta, params)
    # item 4 really follows a non-monotone (bell-shaped) curve centred at 0.5
    p_bad = 0.15 + 0.7 * np.exp(-((theta - 0.5) ** 2))
    x[:, 4] = (rng.random(n) < p_bad).astype(float)
    res = item_fit(x, params)
    assert res.p_value is not None and res.s_x2 is not None and res.df is not None
    assert res.p_value[4] < 1e-6
    assert np.sum(res.p_value < 0.01) <= 3  # the others mostly fit (their total score includes item 4)
    assert res.n_s_x2 == n
    assert np.all(res.df[np.arange(J) != 4] > 0)


def test_s_x2_matches_pypi_mirt_dichotomous_with_pooling() -> None:
    """PyPI mirt 1.2 compute_s_x2 on the same grid: agreement to 1e-8 (measured ~1e-14)."""
    mirt = pytest.importorskip("mirt")
    from mirt.diagnostics.itemfit import compute_s_x2

    rng = np.random.default_rng(3)
    for J, n in [(12, 3000), (15, 250)]:  # the second has many sparse score rows to pool
        a, d = rng.uniform(0.7, 2, J), rng.normal(0, 1, J)
        params = ItemParameters(model="2pl", a=a, d=d)
        x = _simulate(rng, rng.normal(size=n), params)
        ours = item_fit(x, params)
        m = mirt.TwoParameterLogistic(n_items=J)
        m.set_parameters(discrimination=a, difficulty=-d / a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = compute_s_x2(m, x.astype(int), quadrature_points=QUAD, quadrature_weights=QW, item_parameter_counts=np.full(J, 2))
        assert ours.s_x2 is not None and ours.df is not None and ours.p_value is not None
        np.testing.assert_allclose(ours.s_x2, ref["S_X2"], rtol=1e-8)
        np.testing.assert_array_equal(ours.df, ref["df"])
        np.testing.assert_allclose(ours.p_value, ref["p_value"], rtol=1e-8)


@pytest.mark.parametrize("model", ["grm", "gpcm"])
def test_s_x2_matches_pypi_mirt_polytomous_without_pooling(model: str) -> None:
    """GRM/GPCM: identical to PyPI mirt when no sparse-cell pooling is needed (min_expected=0).

    With pooling the two differ on purpose: we pool whole score rows as R mirt's
    collapseCells does, PyPI mirt 1.2 pools categories within a row.
    """
    mirt = pytest.importorskip("mirt")
    from mirt.diagnostics.itemfit import compute_s_x2

    rng = np.random.default_rng(4)
    J, n = 8, 4000
    a = rng.uniform(0.8, 2, J)
    if model == "grm":
        d = np.sort(rng.normal(0, 1, (J, 2)), axis=1)[:, ::-1]
        m = mirt.GradedResponseModel(n_items=J, n_categories=3)
        m.set_parameters(discrimination=a, thresholds=-d / a[:, None])
    else:
        d = rng.normal(0, 1, (J, 2))
        m = mirt.GeneralizedPartialCredit(n_items=J, n_categories=3)
        m.set_parameters(discrimination=a, steps=-d / a[:, None])
    params = ItemParameters(model=model, a=a, d=d)
    x = _simulate(rng, rng.normal(size=n), params)
    ours = item_fit(x, params, min_expected=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = compute_s_x2(
            m, x.astype(int), quadrature_points=QUAD, quadrature_weights=QW, item_parameter_counts=np.full(J, 3), min_expected=0.0
        )
    assert ours.s_x2 is not None and ours.df is not None
    np.testing.assert_allclose(ours.s_x2, ref["S_X2"], rtol=1e-8)
    np.testing.assert_array_equal(ours.df, ref["df"])


def test_s_x2_matches_pypi_mirt_3pl() -> None:
    mirt = pytest.importorskip("mirt")
    from mirt.diagnostics.itemfit import compute_s_x2

    rng = np.random.default_rng(3)
    J, n = 10, 2000
    a, d, c = rng.uniform(0.7, 2, J), rng.normal(0, 1, J), rng.uniform(0.1, 0.25, J)
    params = ItemParameters(model="3pl", a=a, d=d, c=c)
    x = _simulate(rng, rng.normal(size=n), params)
    ours = item_fit(x, params)
    m = mirt.ThreeParameterLogistic(n_items=J)
    m.set_parameters(discrimination=a, difficulty=-d / a, guessing=c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = compute_s_x2(m, x.astype(int), quadrature_points=QUAD, quadrature_weights=QW, item_parameter_counts=np.full(J, 3))
    assert ours.s_x2 is not None and ours.df is not None
    np.testing.assert_allclose(ours.s_x2, ref["S_X2"], rtol=1e-8)
    np.testing.assert_array_equal(ours.df, ref["df"])


def test_s_x2_mixed_format_and_missing_listwise() -> None:
    rng = np.random.default_rng(8)
    params = ItemParameters(
        model=("2pl",) * 8 + ("grm", "gpcm"),
        a=rng.uniform(0.8, 1.6, 10),
        d=np.vstack([np.column_stack([rng.normal(0, 1, 8), np.full(8, np.nan)]), [[0.8, -0.6], [0.2, -0.1]]]),
    )
    x = _simulate(rng, rng.normal(size=2000), params)
    x[:100, 3] = np.nan
    res = item_fit(x, params)
    assert res.n_s_x2 == 1900
    assert res.p_value is not None and res.df is not None
    assert np.all(np.isfinite(res.p_value))
    assert np.sum(res.p_value < 0.01) <= 1
    all_missing = x.copy()
    all_missing[:, 0] = np.nan
    with pytest.raises(ScoringInputError, match="complete"):
        item_fit(all_missing, params)


# ---------------------------------------------------------------- infit / outfit


def test_infit_outfit_rasch_fit_and_misfit() -> None:
    rng = np.random.default_rng(13)
    J, n = 12, 4000
    b = np.linspace(-1.5, 1.5, J)
    params = ItemParameters(model="1pl", a=np.ones(J), d=-b)
    theta = rng.normal(size=n)
    slopes = np.ones(J)
    slopes[2] = 0.3  # flat curve: noisy, underfit (MS > 1)
    slopes[9] = 3.0  # steep curve: too deterministic, overfit (MS < 1)
    truth = ItemParameters(model="2pl", a=slopes, d=-b * slopes)
    x = _simulate(rng, theta, truth)
    res = item_fit(x, params, theta=theta, statistic="infit_outfit")
    assert res.infit is not None and res.outfit is not None and res.infit_t is not None and res.outfit_t is not None
    ok = np.setdiff1d(np.arange(J), [2, 9])
    np.testing.assert_allclose(res.infit[ok], 1.0, atol=0.08)
    np.testing.assert_allclose(res.outfit[ok], 1.0, atol=0.15)
    assert np.all(np.abs(res.infit_t[ok]) < 3.5)
    assert res.infit[2] > 1.2 and res.outfit[2] > 1.2 and res.infit_t[2] > 4
    assert res.infit[9] < 0.8 and res.outfit[9] < 0.8 and res.infit_t[9] < -4
    assert res.s_x2 is None
    assert res.n_fit is not None and np.all(res.n_fit <= n)


def test_infit_outfit_hand_computed_single_item() -> None:
    params = ItemParameters(model="1pl", a=[1.0, 1.0], d=[0.0, 0.0])
    theta = np.array([0.0, np.log(3.0)])  # P = 0.5 and 0.75
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    res = item_fit(x, params, theta=theta, statistic="infit_outfit", exclude_extreme=False)
    # item 1: residuals 0.5, -0.75; variances 0.25, 0.1875
    z2 = [0.25 / 0.25, 0.5625 / 0.1875]
    assert res.outfit is not None and res.infit is not None
    assert res.outfit[0] == pytest.approx(np.mean(z2))
    assert res.infit[0] == pytest.approx((0.25 + 0.5625) / (0.25 + 0.1875))


def test_infit_outfit_agrees_with_pypi_mirt() -> None:
    mirt = pytest.importorskip("mirt")
    from mirt.diagnostics.itemfit import compute_itemfit

    rng = np.random.default_rng(21)
    J, n = 10, 1500
    a, d = rng.uniform(0.7, 1.8, J), rng.normal(0, 1, J)
    params = ItemParameters(model="2pl", a=a, d=d)
    theta = rng.normal(size=n)
    x = _simulate(rng, theta, params)
    ours = item_fit(x, params, theta=theta, statistic="infit_outfit", exclude_extreme=False)
    m = mirt.TwoParameterLogistic(n_items=J)
    m.set_parameters(discrimination=a, difficulty=-d / a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = compute_itemfit(m, x.astype(int), ["infit", "outfit", "z_infit", "z_outfit"], theta=theta)
    assert ours.infit is not None and ours.outfit is not None and ours.infit_t is not None and ours.outfit_t is not None
    np.testing.assert_allclose(ours.infit, ref["infit"], rtol=1e-8)
    np.testing.assert_allclose(ours.outfit, ref["outfit"], rtol=1e-8)
    np.testing.assert_allclose(ours.infit_t, ref["z_infit"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.outfit_t, ref["z_outfit"], rtol=1e-6, atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_permuting_persons_leaves_fit_unchanged(seed: int) -> None:
    rng = np.random.default_rng(seed)
    params = _mixed()
    theta = rng.normal(size=300)
    x = _simulate(rng, theta, params)
    res = item_fit(x, params, theta=theta, statistic=("infit_outfit", "s_x2"))
    perm = rng.permutation(300)
    res_p = item_fit(x[perm], params, theta=theta[perm], statistic=("infit_outfit", "s_x2"))
    for f in ("infit", "outfit", "s_x2", "df"):
        np.testing.assert_allclose(getattr(res_p, f), getattr(res, f), rtol=1e-9, equal_nan=True)


def test_bad_input() -> None:
    params = _mixed()
    x = np.zeros((5, 4))
    with pytest.raises(ScoringInputError, match="statistic"):
        item_fit(x, params, statistic="x2")
    with pytest.raises(ScoringInputError, match="theta"):
        item_fit(x, params, theta=np.zeros(3), statistic="infit_outfit")
    with pytest.raises(ScoringInputError, match="n_parameters"):
        item_fit(x, params, n_parameters=[1, 2])
    with pytest.raises(ScoringInputError, match="quadrature_weights"):
        item_fit(x, params, quadrature_points=[0.0, 1.0])
    with pytest.raises(ScoringInputError, match="columns"):
        item_fit(np.zeros((5, 3)), params)


def _lsat7() -> np.ndarray:
    from .conftest import load_lsat7

    return load_lsat7()


def test_s_x2_lsat7_with_r_mirt_parameters_matches_pypi_mirt() -> None:
    """LSAT7 with R mirt's published 2PL estimates (reference README): S-X2 equal to PyPI mirt's to 1e-8."""
    mirt = pytest.importorskip("mirt")
    from mirt.diagnostics.itemfit import compute_s_x2

    x = _lsat7()
    assert x.shape == (1000, 5)
    a = np.array([0.988, 1.081, 1.706, 0.765, 0.736])
    d = np.array([1.856, 0.808, 1.804, 0.486, 1.855])
    params = ItemParameters(model="2pl", a=a, d=d)
    ours = item_fit(x, params)
    m = mirt.TwoParameterLogistic(n_items=5)
    m.set_parameters(discrimination=a, difficulty=-d / a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = compute_s_x2(m, x.astype(int), quadrature_points=QUAD, quadrature_weights=QW, item_parameter_counts=np.full(5, 2))
    assert ours.s_x2 is not None and ours.p_value is not None and ours.df is not None
    np.testing.assert_allclose(ours.s_x2, ref["S_X2"], rtol=1e-8)
    np.testing.assert_array_equal(ours.df, ref["df"])
    # measured: S-X2 = 4.748, 14.455, 1.271, 5.236, 0.941 (df 2 each); item 2 misfits (p = 0.0007)
    np.testing.assert_allclose(ours.s_x2, [4.748, 14.455, 1.271, 5.236, 0.941], atol=1e-3)


def test_s_x2_after_our_calibration_of_lsat7() -> None:
    """End to end: calibrate LSAT7 with scoring.calibrate, then S-X2; close to the R-mirt-parameter values."""
    from scoring.calibration import calibrate

    x = _lsat7()
    cal = calibrate(x, model="2pl")
    ours = item_fit(x, cal.params)
    ref = item_fit(x, ItemParameters(model="2pl", a=[0.988, 1.081, 1.706, 0.765, 0.736], d=[1.856, 0.808, 1.804, 0.486, 1.855]))
    assert ours.s_x2 is not None and ref.s_x2 is not None
    # parameters agree to ~0.005, so S-X2 agrees to a few hundredths
    np.testing.assert_allclose(ours.s_x2, ref.s_x2, atol=0.1)


def test_infit_outfit_default_wle_theta() -> None:
    """Without theta, WLE estimates are used: misfitting items still stand out from the rest."""
    rng = np.random.default_rng(31)
    J, n = 12, 3000
    b = np.linspace(-1.5, 1.5, J)
    slopes = np.ones(J)
    slopes[2], slopes[9] = 0.3, 3.0
    x = _simulate(rng, rng.normal(size=n), ItemParameters(model="2pl", a=slopes, d=-b * slopes))
    res = item_fit(x, ItemParameters(model="1pl", a=np.ones(J), d=-b), statistic="infit_outfit")
    assert res.infit is not None and res.outfit is not None
    ok = np.setdiff1d(np.arange(J), [2, 9])
    # estimated theta: mean squares pulled below 1, towards (L-1)/L (see the module docstring)
    assert np.all((res.infit[ok] > 0.8) & (res.infit[ok] < 1.1))
    assert np.mean(res.infit[ok]) < 1.0
    assert res.infit[2] > res.infit[ok].max() + 0.1 and res.outfit[2] > 1.2
    assert res.infit[9] < res.infit[ok].min() - 0.1 and res.outfit[9] < 0.7
