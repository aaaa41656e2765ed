"""Seeded simulation recovery of item and latent parameters (tolerances stated per test).

Tolerances are roughly 1.5-2x the RMSE observed with these seeds, i.e. they
detect bias or breakage while leaving room for sampling error; the standard
errors reported by the calibration are checked against the same truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from scoring import ItemParameters, calibrate

from .conftest import rmse, simulate

N, J = 5000, 20


@pytest.fixture(scope="module")
def rng_theta() -> tuple[np.random.Generator, np.ndarray]:
    rng = np.random.default_rng(20240501)
    return rng, rng.normal(size=N)


def _truth(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.lognormal(0, 0.25, J), rng.normal(0, 1, J)


def test_2pl_recovery() -> None:
    rng = np.random.default_rng(1)
    a, d = _truth(1)
    X = simulate(ItemParameters("2pl", a, d), rng.normal(size=N), rng)
    res = calibrate(X, "2pl")
    assert res.converged
    assert rmse(res.a, a) < 0.08  # observed 0.05
    assert rmse(res.d[:, 0], d) < 0.07  # observed 0.04
    # SEs are calibrated: standardised errors have RMS near 1
    z = np.concatenate([(res.a - a) / res.se_a, (res.d[:, 0] - d) / res.se_d[:, 0]])
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.5
    assert np.all(res.se_a > 0) and np.all(res.se_d[:, 0] > 0)


def test_1pl_common_slope_recovery() -> None:
    rng = np.random.default_rng(2)
    _, d = _truth(2)
    X = simulate(ItemParameters("1pl", np.full(J, 1.3), d), rng.normal(size=N), rng)
    res = calibrate(X, "1pl")
    assert np.ptp(res.a) == 0
    assert abs(res.a[0] - 1.3) < 0.04  # observed 0.001
    assert rmse(res.d[:, 0], d) < 0.07
    assert res.n_parameters == J + 1
    assert res.se_a[0] > 0


def test_rasch_estimates_latent_sd() -> None:
    """Rasch: slopes fixed at 1, the latent SD estimated (mirt's Rasch); equivalent to 1pl."""
    rng = np.random.default_rng(3)
    _, d = _truth(3)
    X = simulate(ItemParameters("1pl", np.ones(J), d), rng.normal(0, 1.3, size=N), rng)
    res = calibrate(X, "rasch")
    np.testing.assert_array_equal(res.a, 1.0)
    assert abs(res.group_sds[0] - 1.3) < 0.05
    assert res.group_means[0] == 0
    assert res.se_group_sds[0] > 0 and np.isnan(res.se_group_means[0])
    one = calibrate(X, "1pl", se=False)
    # same likelihood, reparameterised: common slope == latent SD
    assert abs(one.a[0] - res.group_sds[0]) < 2e-3
    assert abs(one.loglik - res.loglik) < 1e-2


@pytest.mark.slow
def test_3pl_recovery() -> None:
    rng = np.random.default_rng(4)
    a, d = _truth(4)
    a = a * 1.3
    c = rng.uniform(0.1, 0.3, J)
    n = 20000
    X = simulate(ItemParameters("3pl", a, d, c=c), rng.normal(size=n), rng)
    res = calibrate(X, "3pl")
    assert res.converged
    assert rmse(res.a, a) < 0.12  # observed ~0.07
    assert rmse(res.d[:, 0], d) < 0.15
    assert rmse(res.c, c) < 0.06  # observed 0.04; mean reported SE(c) 0.044
    assert np.all(res.se_c > 0)


def test_grm_recovery() -> None:
    rng = np.random.default_rng(5)
    a, _ = _truth(5)
    d = np.sort(rng.normal(0, 1, (J, 2)), axis=1)[:, ::-1] + np.array([0.6, -0.6])
    X = simulate(ItemParameters("grm", a, d), rng.normal(size=N), rng)
    res = calibrate(X, "grm")
    assert rmse(res.a, a) < 0.08  # observed 0.04
    assert rmse(res.d, d) < 0.1  # observed 0.05
    assert np.all(np.diff(res.d, axis=1) < 0)


def test_gpcm_recovery() -> None:
    rng = np.random.default_rng(6)
    a, _ = _truth(6)
    d = rng.normal(0, 0.8, (J, 3))
    X = simulate(ItemParameters("gpcm", a, d), rng.normal(size=N), rng)
    res = calibrate(X, "gpcm")
    assert rmse(res.a, a) < 0.08
    assert rmse(res.d, d) < 0.15


def test_mixed_2pl_gpcm_auto() -> None:
    rng = np.random.default_rng(7)
    a, d1 = _truth(7)
    d = np.full((J, 2), np.nan)
    d[:12, 0] = d1[:12]
    d[12:] = rng.normal(0, 0.8, (J - 12, 2))
    truth = ItemParameters(["2pl"] * 12 + ["gpcm"] * (J - 12), a, d)
    X = simulate(truth, rng.normal(size=N), rng)
    res = calibrate(X, "auto")
    assert res.model == truth.model
    assert rmse(res.a, a) < 0.08
    assert rmse(res.d, d) < 0.12
    np.testing.assert_array_equal(np.isnan(res.d), np.isnan(d))


def test_rotated_booklets_30pct_missing() -> None:
    """3 forms: 3 common items + two of three 9-item blocks each (30% missing by design)."""
    rng = np.random.default_rng(8)
    Jb = 30
    a = rng.lognormal(0, 0.25, Jb)
    d = rng.normal(0, 1, Jb)
    n = 6000
    X = simulate(ItemParameters("2pl", a, d), rng.normal(size=n), rng)
    blocks = [np.arange(3, 12), np.arange(12, 21), np.arange(21, 30)]
    form = np.arange(n) % 3
    for f in range(3):
        X[np.ix_(form == f, blocks[f])] = np.nan  # form f omits block f
    assert abs(np.isnan(X).mean() - 0.3) < 1e-9
    res = calibrate(X, "2pl")
    assert res.converged
    assert rmse(res.a, a) < 0.09  # observed ~0.05
    assert rmse(res.d[:, 0], d) < 0.08


@pytest.mark.slow
def test_multigroup_grade5_grade8_with_8_anchors() -> None:
    """Grade 5 (12 own + 8 anchors) and grade 8 (16 own + 8 anchors), N = 20,000."""
    rng = np.random.default_rng(9)
    J5, J8, JA = 12, 16, 8
    Jt = J5 + J8 + JA
    a = rng.lognormal(0, 0.25, Jt)
    b = np.concatenate([rng.normal(-0.5, 0.8, J5), rng.normal(0.8, 0.8, J8), rng.normal(0.3, 0.8, JA)])
    n = 10000
    theta = np.concatenate([rng.normal(0, 1, n), rng.normal(0.8, 1.2, n)])
    grade = np.repeat([5, 8], n)
    X = simulate(ItemParameters("2pl", a, -a * b), theta, rng)
    X[:n, J5 : J5 + J8] = np.nan
    X[n:, :J5] = np.nan
    res = calibrate(X, "2pl", groups=grade)
    assert res.group_labels == (5, 8) and res.reference_group == 5
    assert res.group_means[0] == 0 and res.group_sds[0] == 1
    assert abs(res.group_means[1] - 0.8) < 0.05
    assert abs(res.group_sds[1] - 1.2) < 0.05
    assert 0 < res.se_group_means[1] < 0.05 and 0 < res.se_group_sds[1] < 0.05
    assert rmse(res.a, a) < 0.06
    np.testing.assert_array_equal(res.group_n, [n, n])
    # choosing grade 8 as reference rescales the solution
    res8 = calibrate(X, "2pl", groups=grade, reference_group=8, se=False)
    assert abs(res8.group_means[0] - (-res.group_means[1] / res.group_sds[1])) < 0.02


def test_fixed_parameter_calibration() -> None:
    """Anchors held at known values set the scale; pilot items and the latent mean/SD are estimated."""
    rng = np.random.default_rng(10)
    a, d = _truth(10)
    theta = rng.normal(0.5, 1.2, N)
    X = simulate(ItemParameters("2pl", a, d), theta, rng)
    anchors = {j: {"a": a[j], "d": d[j]} for j in range(8)}
    res = calibrate(X, "2pl", fixed=anchors)
    np.testing.assert_array_equal(res.a[:8], a[:8])
    np.testing.assert_array_equal(res.d[:8, 0], d[:8])
    assert np.all(np.isnan(res.se_a[:8])) and np.all(res.se_a[8:] > 0)
    assert abs(res.group_means[0] - 0.5) < 0.06
    assert abs(res.group_sds[0] - 1.2) < 0.06
    assert rmse(res.a[8:], a[8:]) < 0.1
    assert rmse(res.d[8:, 0], d[8:]) < 0.1
    # the same via an ItemParameters matched by name, and with the latent distribution held at N(0, 1)
    anchor_params = ItemParameters("2pl", a[:8], d[:8], item_names=tuple(f"item{j + 1}" for j in range(8)))
    res2 = calibrate(X, "2pl", fixed=anchor_params, se=False)
    np.testing.assert_allclose(res2.a, res.a, atol=1e-6)
    res3 = calibrate(X, "2pl", fixed=anchors, estimate_latent=False, se=False)
    assert res3.group_means[0] == 0 and res3.group_sds[0] == 1
