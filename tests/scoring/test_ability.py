"""Ability estimation against brute-force references, extreme patterns and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    AbilityEstimates,
    ConvergenceWarning,
    ItemParameters,
    ScoringInputError,
    category_probabilities,
    conditional_se,
    empirical_reliability,
    estimate_ability,
    marginal_reliability,
    test_information,
)
from scoring.models import log_category_probabilities

from .conftest import simulate

NAN = np.nan
MIXED = ItemParameters(
    ["2pl", "3pl", "grm", "gpcm", "2pl"],
    a=[1.2, 1.5, 0.9, 1.1, 0.7],
    d=[[0.3, NAN, NAN], [-0.5, NAN, NAN], [1, 0, -1], [0.4, -0.2, NAN], [-1, NAN, NAN]],
    c=[0, 0.2, 0, 0, 0],
)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    X = simulate(MIXED, rng.normal(size=150), rng)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[0] = [1, 1, 3, 2, 1]  # all highest
    X[1] = [0, 0, 0, 0, 0]  # all lowest
    X[2] = NAN  # no responses
    return X


def _loglik_grid(X: np.ndarray, grid: np.ndarray) -> np.ndarray:
    lp = log_category_probabilities(grid, MIXED)
    obs = ~np.isnan(X)
    codes = np.where(obs, X, 0).astype(int)
    LL = np.zeros((X.shape[0], grid.size))
    for j in range(MIXED.n_items):
        LL += np.where(obs[:, j : j + 1], lp[:, j, :][:, codes[:, j]].T, 0)
    return LL


GRID = np.linspace(-6, 6, 24001)  # brute-force resolution 0.0005


@pytest.mark.parametrize("method", ["mle", "map"])
def test_mode_estimators_match_grid_search(data: np.ndarray, method: str) -> None:
    LL = _loglik_grid(data, GRID)
    obj = LL if method == "mle" else LL - 0.5 * GRID**2
    ref = GRID[np.argmax(obj, axis=1)]
    res = estimate_ability(data, MIXED, method)
    np.testing.assert_allclose(res.theta[3:], ref[3:], atol=1e-3)


def test_eap_matches_dense_quadrature(data: np.ndarray) -> None:
    LL = _loglik_grid(data, GRID) - 0.5 * GRID**2
    w = np.exp(LL - LL.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    ref = w @ GRID
    ref_sd = np.sqrt(w @ GRID**2 - ref**2)
    res = estimate_ability(data, MIXED, "eap")
    np.testing.assert_allclose(res.theta, ref, atol=1e-5)
    np.testing.assert_allclose(res.se, ref_sd, atol=1e-5)


def test_wle_solves_warm_equation(data: np.ndarray) -> None:
    """Reference: root of dlogL/dtheta + J/(2I) with numerically differentiated probabilities."""
    h = 1e-4
    P0 = category_probabilities(GRID, MIXED)
    Pp, Pm = category_probabilities(GRID + h, MIXED), category_probabilities(GRID - h, MIXED)
    d1, d2 = (Pp - Pm) / (2 * h), (Pp - 2 * P0 + Pm) / h**2
    obs = ~np.isnan(data)
    codes = np.where(obs, data, 0).astype(int)
    res = estimate_ability(data, MIXED, "wle")
    for i in range(3, data.shape[0]):
        jj = np.flatnonzero(obs[i])
        if jj.size == 0:
            continue
        kk = codes[i, jj]
        dl = (d1[:, jj, kk] / P0[:, jj, kk]).sum(axis=1)
        Ii = (d1[:, jj, :] ** 2 / np.maximum(P0[:, jj, :], 1e-300)).sum(axis=(1, 2))
        Ji = (d1[:, jj, :] * d2[:, jj, :] / np.maximum(P0[:, jj, :], 1e-300)).sum(axis=(1, 2))
        f = dl + Ji / (2 * Ii)
        root = GRID[np.flatnonzero(np.diff(np.sign(f)) < 0)[0]]
        assert abs(res.theta[i] - root) < 1e-3, i


@pytest.mark.parametrize("max_iter", [5, 6, 100, 101])
def test_wle_one_item_is_logit_three_quarters(max_iter: int) -> None:
    # regression: Fisher scoring oscillated (0.543 at max_iter=100, 1.543 at 101). For one 2PL item
    # Warm's equation a(y - P) + a(1 - 2P)/2 = 0 gives P = 3/4 (right) or 1/4 (wrong).
    from scipy.special import logit

    p = ItemParameters("2pl", [1.0], [0.0])
    est = estimate_ability([[1.0], [0.0]], p, "wle", max_iter=max_iter)
    np.testing.assert_allclose(est.theta, [logit(0.75), -logit(0.75)], atol=1e-9)
    q = ItemParameters("2pl", [1.7], [0.4])
    est = estimate_ability([[1.0], [0.0]], q, "wle", max_iter=max_iter)
    np.testing.assert_allclose(est.theta, [(logit(0.75) - 0.4) / 1.7, (-logit(0.75) - 0.4) / 1.7], atol=1e-9)
    np.testing.assert_allclose(est.se, 1 / np.sqrt(1.7**2 * 0.75 * 0.25), atol=1e-8)


def _warm_3pl(t: float, y: np.ndarray, a: np.ndarray, d: np.ndarray, c: np.ndarray) -> float:
    """Warm's function for 3PL items, coded from the closed-form derivatives."""
    L = 1 / (1 + np.exp(-(a * t + d)))
    P = c + (1 - c) * L
    d1 = a * (1 - c) * L * (1 - L)
    d2 = a * d1 * (1 - 2 * L)
    w = 1 / (P * (1 - P))
    return float(np.sum((y - P) * d1 * w) + np.sum(d1 * d2 * w) / (2 * np.sum(d1 * d1 * w)))


def test_wle_3pl_all_wrong_is_root_of_warm_equation() -> None:
    # regression: stopped at -3.458 (max_iter=100) / -4.458 (101); the root is -4.10
    from scipy.optimize import brentq

    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.7, 2.0, 10), rng.normal(0, 1, 10)
    d, c = -a * b, np.full(10, 0.2)
    y = np.zeros(10)
    root = brentq(_warm_3pl, -6.0, -2.0, args=(y, a, d, c), xtol=1e-12)
    for max_iter in (100, 101):
        est = estimate_ability(y[None], ItemParameters("3pl", a, d, c=c), "wle", max_iter=max_iter)
        assert est.theta[0] == pytest.approx(root, abs=1e-8)
    assert root == pytest.approx(-4.10, abs=0.01)


def test_mle_map_3pl_sparse_global_maximum() -> None:
    # regression: with 50% missing the non-concave 3PL likelihood left 88 of 2720 MLEs off the maximum
    rng = np.random.default_rng(0)
    J = 20
    a, b = rng.uniform(0.7, 2.0, J), rng.normal(0, 1, J)
    p = ItemParameters("3pl", a, -a * b, c=np.full(J, 0.2))
    X = simulate(p, rng.normal(size=400), rng)
    X[rng.random(X.shape) < 0.5] = np.nan
    grid = np.linspace(-6, 6, 24001)
    lp = log_category_probabilities(grid, p)
    obs = ~np.isnan(X)
    x = np.nan_to_num(X)
    LL = (x * obs) @ lp[:, :, 1].T + ((1 - x) * obs) @ lp[:, :, 0].T
    mle = estimate_ability(X, p, "mle")
    inner = ~mle.extreme & (np.abs(grid[LL.argmax(axis=1)]) < 5.9)
    np.testing.assert_allclose(mle.theta[inner], grid[LL.argmax(axis=1)][inner], atol=1e-3)
    assert inner.sum() > 350
    post = LL - 0.5 * grid**2
    np.testing.assert_allclose(estimate_ability(X, p, "map").theta, grid[post.argmax(axis=1)], atol=1e-3)


def test_wle_sparse_2pl_maximises_weighted_likelihood() -> None:
    """For 2PL Warm's WLE maximises L(theta) sqrt(I(theta)); with several roots the global maximum is taken."""
    rng = np.random.default_rng(1)
    J = 40
    a, b = rng.uniform(0.7, 2.0, J), rng.normal(0, 1, J)
    p = ItemParameters("2pl", a, -a * b)
    X = simulate(p, rng.normal(size=600), rng)
    X[rng.random(X.shape) < 0.9] = np.nan
    X = X[(~np.isnan(X)).sum(axis=1) > 0]
    X[0] = np.nan
    X[0, :2] = [0, 1]  # two far-apart items: Warm's equation has three roots here
    p = ItemParameters("2pl", np.r_[1.91, 1.87, a[2:]], np.r_[-1.91 * 1.5, 1.87 * 1.34, -a[2:] * b[2:]])
    grid = np.linspace(-6, 6, 24001)
    lp = log_category_probabilities(grid, p)
    obs = ~np.isnan(X)
    x = np.nan_to_num(X)
    LL = (x * obs) @ lp[:, :, 1].T + ((1 - x) * obs) @ lp[:, :, 0].T
    P1 = np.exp(lp[:, :, 1])
    info = obs @ (p.a[None, :] ** 2 * P1 * (1 - P1)).T
    ref = grid[np.argmax(LL + 0.5 * np.log(info), axis=1)]
    est = estimate_ability(X, p, "wle")
    inner = np.abs(ref) < 5.9
    np.testing.assert_allclose(est.theta[inner], ref[inner], atol=1e-3)
    assert inner[0] and est.theta[0] == pytest.approx(0.863, abs=1e-3)  # the other maximum is near -0.68


def test_root_search_warns_when_max_iter_is_too_small() -> None:
    rng = np.random.default_rng(2)
    X = simulate(MIXED, rng.normal(size=30), rng)
    with pytest.warns(ConvergenceWarning, match=r"WLE root search stopped at max_iter=1 .* for \d+ of 30 persons"):
        estimate_ability(X, MIXED, "wle", max_iter=1)


def test_extreme_and_empty_patterns(data: np.ndarray) -> None:
    mle = estimate_ability(data, MIXED, "mle")
    assert mle.theta[0] == 6 and mle.theta[1] == -6  # documented: MLE of extreme patterns = bounds
    assert np.isfinite(mle.se[:2]).all() and (mle.se[:2] > 0).all()
    assert np.isnan(mle.theta[2]) and np.isnan(mle.se[2])
    assert mle.extreme[:2].all() and not mle.extreme[2]
    assert mle.n_responses[2] == 0 and mle.n_responses[0] == 5
    wle = estimate_ability(data, MIXED, "wle")
    assert -6 < wle.theta[1] < wle.theta[0] < 6
    assert np.isnan(wle.theta[2])
    for m in ("eap", "map"):
        r = estimate_ability(data, MIXED, m, prior_mean=0.3, prior_sd=1.2)
        assert abs(r.theta[2] - 0.3) < 1e-6 and abs(r.se[2] - 1.2) < 1e-3
        assert np.all(r.se > 0)


def test_recovery_and_reliability() -> None:
    rng = np.random.default_rng(5)
    a = rng.lognormal(0, 0.3, 30)
    p = ItemParameters("2pl", a, rng.normal(size=30))
    theta = rng.normal(size=4000)
    X = simulate(p, theta, rng)
    eap = estimate_ability(X, p, "eap")
    assert np.corrcoef(eap.theta, theta)[0, 1] > 0.9
    rel = marginal_reliability(p)
    emp = empirical_reliability(eap)
    assert 0.8 < rel < 0.97 and abs(rel - emp) < 0.03
    assert abs(rel - np.corrcoef(eap.theta, theta)[0, 1] ** 2) < 0.03
    cse = conditional_se(np.array([-1.0, 0.0, 1.0]), p)
    np.testing.assert_allclose(cse, 1 / np.sqrt(test_information([-1.0, 0.0, 1.0], p)))
    # per-person priors (e.g. a group's estimated distribution)
    mu = np.where(np.arange(4000) % 2 == 0, 0.0, 1.0)
    r2 = estimate_ability(X, p, "eap", prior_mean=mu, prior_sd=np.ones(4000))
    assert np.mean(r2.theta[1::2] - eap.theta[1::2]) > 0.05


def test_chunking_is_invisible(monkeypatch: pytest.MonkeyPatch, data: np.ndarray) -> None:
    import scoring.ability as ab

    full = estimate_ability(data, MIXED, "wle")
    monkeypatch.setattr(ab, "_CHUNK", 7)
    chunked = estimate_ability(data, MIXED, "wle")
    np.testing.assert_array_equal(np.isnan(full.theta), np.isnan(chunked.theta))
    np.testing.assert_allclose(full.theta, chunked.theta, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"responses": np.zeros((3, 4))}, r"expected shape \(n_persons, 5\)"),
        ({"responses": np.array([[0, 0, 4, 0, 0.0]])}, r"item 'item3' \(column 2\) expects NaN or an integer category 0..3; found 4 at row 0"),
        ({"responses": np.array([[0, 0.5, 0, 0, 0.0]])}, r"found 0.5 at row 0"),
        ({"responses": np.array([[0, -1, 0, 0, 0.0]])}, r"found -1 at row 0"),
        ({"method": "xyz"}, "method"),
        ({"prior_sd": 0.0}, "prior_sd"),
        ({"prior_mean": [0.0, 1.0]}, "prior_mean"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    args = {"responses": np.zeros((3, 5)), "params": MIXED, "method": "eap"} | kwargs
    with pytest.raises(ScoringInputError, match=match):
        estimate_ability(**args)


def test_matches_pypi_mirt_eap() -> None:
    """Cross-check EAP with PyPI mirt's fscores on LSAT7-like 2PL data (same parameters)."""
    mirt = pytest.importorskip("mirt")
    rng = np.random.default_rng(11)
    p = ItemParameters("2pl", a=[0.99, 1.08, 1.71, 0.77, 0.74], d=[1.86, 0.81, 1.80, 0.49, 1.86])
    X = simulate(p, rng.normal(size=200), rng)
    ours = estimate_ability(X, p, "eap")
    # reference computed directly by brute-force quadrature (mirt's fscores default grid differs)
    g = np.linspace(-6, 6, 4001)
    lp = log_category_probabilities(g, p)
    LL = X @ lp[:, :, 1].T + (1 - X) @ lp[:, :, 0].T - 0.5 * g**2
    w = np.exp(LL - LL.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ours.theta, w @ g, atol=1e-4)
    assert mirt is not None


# --- property tests -------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["eap", "map", "mle", "wle"]))
def test_property_permuting_persons_permutes_results(seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    X = simulate(MIXED, rng.normal(size=25), rng)
    X[rng.random(X.shape) < 0.2] = np.nan
    perm = rng.permutation(25)
    r1 = estimate_ability(X, MIXED, method)
    r2 = estimate_ability(X[perm], MIXED, method)
    # EAP runs in float32 (BLAS summation order can differ by row position): agreement to 1e-6
    np.testing.assert_allclose(r1.theta[perm], r2.theta, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(r1.se[perm], r2.se, atol=1e-6, equal_nan=True)
    ok = r1.n_responses > 0
    assert np.all(r1.se[ok] > 0)
    assert isinstance(r1, AbilityEstimates) and len(r1) == 25


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_property_more_correct_never_lowers_eap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = ItemParameters("2pl", rng.lognormal(0, 0.3, 8), rng.normal(size=8))
    x = (rng.random((1, 8)) < 0.5).astype(float)
    j = rng.integers(8)
    y = x.copy()
    y[0, j] = 1.0
    for m in ("eap", "map", "wle"):
        assert estimate_ability(y, p, m).theta[0] >= estimate_ability(x, p, m).theta[0] - 1e-9
