"""Tests for scoring.linking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.errors import ScoringInputError
from scoring.linking import link, transform_parameters, transform_theta
from scoring.models import ItemParameters, category_probabilities, expected_score

METHODS = ["mean-mean", "mean-sigma", "haebara", "stocking-lord"]


def _mixed_params(rng: np.random.Generator, n_dich: int = 8, n_poly: int = 4, prefix: str = "i") -> ItemParameters:
    J = n_dich + n_poly
    a = rng.uniform(0.6, 2.0, J)
    d = np.full((J, 3), np.nan)
    model: list[str] = []
    c = np.zeros(J)
    for j in range(J):
        if j < n_dich:
            model.append("3pl" if j % 4 == 3 else "2pl")
            d[j, 0] = rng.normal(0, 1.2)
            if model[-1] == "3pl":
                c[j] = rng.uniform(0.1, 0.25)
        else:
            kind = "grm" if j % 2 else "gpcm"
            model.append(kind)
            ncat = 2 + j % 2  # 2 or 3 intercepts
            steps = np.sort(rng.normal(0, 1.2, ncat))[::-1] if kind == "grm" else rng.normal(0, 1.0, ncat)
            d[j, :ncat] = steps
    return ItemParameters(model=tuple(model), a=a, d=d, c=c, item_names=tuple(f"{prefix}{j}" for j in range(J)))


def test_transform_derivation_preserves_response_functions() -> None:
    rng = np.random.default_rng(0)
    p = _mixed_params(rng)
    A, B = 1.3, -0.7
    q = transform_parameters(p, A, B)
    theta_from = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(
        category_probabilities(transform_theta(theta_from, A, B), q),
        category_probabilities(theta_from, p),
        atol=1e-12,
    )
    np.testing.assert_allclose(q.a, p.a / A)
    np.testing.assert_allclose(q.b, A * p.b + B, atol=1e-12)  # b_to = A b_from + B
    np.testing.assert_array_equal(q.c, p.c)
    assert q.model == p.model and q.item_names == p.item_names
    with pytest.raises(ScoringInputError, match="A"):
        transform_parameters(p, -1.0, 0.0)


@pytest.mark.parametrize("method", METHODS)
def test_recovers_known_constants_exactly(method: str) -> None:
    rng = np.random.default_rng(1)
    to = _mixed_params(rng)
    A, B = 1.25, 0.6
    # the same items calibrated on a scale where theta_from = (theta_to - B) / A
    frm = transform_parameters(to, 1 / A, -B / A)
    res = link(frm, to, method=method)
    assert pytest.approx(A, abs=1e-8) == res.A
    assert pytest.approx(B, abs=1e-8) == res.B
    assert res.converged
    assert len(res.common_names) == to.n_items
    np.testing.assert_allclose(res.linked.a, to.a, atol=1e-7)
    np.testing.assert_allclose(res.linked.d, to.d, atol=1e-7)
    if method in ("haebara", "stocking-lord"):
        assert res.criterion < 1e-16


@pytest.mark.parametrize("method", ["haebara", "stocking-lord"])
def test_symmetric_and_dichotomous_only(method: str) -> None:
    rng = np.random.default_rng(2)
    to = _mixed_params(rng, n_dich=10, n_poly=0)
    frm = transform_parameters(to, 0.8, 0.3)
    res = link(frm, to, method=method, symmetric=True)
    assert pytest.approx(1 / 0.8, abs=1e-8) == res.A
    assert pytest.approx(-0.3 / 0.8, abs=1e-8) == res.B


def test_common_subset_by_names_and_pairs() -> None:
    rng = np.random.default_rng(3)
    g5 = _mixed_params(rng, 10, 2, prefix="g5_")
    g8_unique = _mixed_params(rng, 6, 2, prefix="g8_")
    # grade 8 form: 4 anchors (g5_2..g5_5) on a shifted scale plus its own items
    A, B = 1.1, 0.9  # theta_g5 = A theta_g8 + B
    anchors = g5.take([2, 3, 4, 5])
    anchors_on_g8 = transform_parameters(anchors, 1 / A, -B / A)
    g8 = ItemParameters(
        model=anchors_on_g8.model + g8_unique.model,
        a=np.concatenate([anchors_on_g8.a, g8_unique.a]),
        d=np.vstack([np.pad(anchors_on_g8.d, ((0, 0), (0, g8_unique.d.shape[1] - anchors_on_g8.d.shape[1])), constant_values=np.nan), g8_unique.d])
        if g8_unique.d.shape[1] >= anchors_on_g8.d.shape[1]
        else np.vstack([anchors_on_g8.d, np.pad(g8_unique.d, ((0, 0), (0, anchors_on_g8.d.shape[1] - g8_unique.d.shape[1])), constant_values=np.nan)]),
        c=np.concatenate([anchors_on_g8.c, g8_unique.c]),
        item_names=anchors_on_g8.item_names + g8_unique.item_names,
    )
    for method in METHODS:
        res = link(g8, g5, method=method)  # common by shared names
        assert res.common_names == ("g5_2", "g5_3", "g5_4", "g5_5")
        assert res.common_from == (0, 1, 2, 3) and res.common_to == (2, 3, 4, 5)
        assert pytest.approx((A, B), abs=1e-7) == (res.A, res.B)
        assert res.linked.n_items == g8.n_items
        res2 = link(g8, g5, common=[(0, 2), (1, 3), (2, 4), (3, 5)], method=method)
        assert pytest.approx((res.A, res.B), abs=1e-10) == (res2.A, res2.B)
    theta8 = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(res.transform_theta(theta8), A * theta8 + B, atol=1e-7)


def test_noisy_parameters_methods_agree_roughly() -> None:
    """With estimation noise the four methods give similar, not identical, constants."""
    rng = np.random.default_rng(4)
    to = _mixed_params(rng, 16, 4)
    frm = transform_parameters(to, 1 / 1.2, -0.5 / 1.2)
    noisy = ItemParameters(
        model=frm.model,
        a=frm.a * np.exp(rng.normal(0, 0.05, frm.n_items)),
        d=frm.d + rng.normal(0, 0.05, (frm.n_items, 1)),  # row shift keeps GRM order
        c=frm.c,
        item_names=frm.item_names,
    )
    ests = {m: link(noisy, to, method=m) for m in METHODS}
    for r in ests.values():
        assert pytest.approx(1.2, abs=0.12) == r.A
        assert pytest.approx(0.5, abs=0.12) == r.B
    # characteristic-curve criteria are minimised: no better (A, B) nearby
    sl = ests["stocking-lord"]
    theta = np.linspace(-4, 4, 61)
    w = np.exp(-0.5 * theta**2)
    w /= w.sum()

    def crit(A: float, B: float) -> float:
        t1 = expected_score(theta, to.take(list(sl.common_to))).sum(axis=1)
        t2 = expected_score(theta, transform_parameters(noisy, A, B)).sum(axis=1)
        return float(np.sum(w * (t1 - t2) ** 2))

    assert crit(sl.A, sl.B) == pytest.approx(sl.criterion, rel=1e-6)
    for dA, dB in [(0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)]:
        assert crit(sl.A + dA, sl.B + dB) > sl.criterion


def test_agrees_with_pypi_mirt_on_2pl() -> None:
    """Cross-check against PyPI mirt 1.2's link() (same grid: 61 pts on [-4, 4], normal weights)."""
    mirt = pytest.importorskip("mirt")
    from mirt.equating.linking import link as mirt_link

    rng = np.random.default_rng(5)
    J = 12
    a_old = rng.uniform(0.7, 2.0, J)
    d_old = rng.normal(0, 1, J)
    to = ItemParameters(model="2pl", a=a_old, d=d_old)
    frm = transform_parameters(to, 1 / 1.3, 0.4 / 1.3)
    noisy = ItemParameters(
        model="2pl", a=frm.a * np.exp(rng.normal(0, 0.08, J)), d=frm.d[:, 0] + rng.normal(0, 0.08, J)
    )

    def mirt_model(p: ItemParameters) -> object:
        m = mirt.TwoParameterLogistic(n_items=J)
        m.set_parameters(discrimination=p.a.copy(), difficulty=(-p.d[:, 0] / p.a).copy())
        return m

    for ours, theirs in [("stocking-lord", "stocking_lord"), ("haebara", "haebara"), ("mean-sigma", "mean_sigma"), ("mean-mean", "mean_mean")]:
        r = link(noisy, to, method=ours)
        ref = mirt_link(mirt_model(to), mirt_model(noisy), list(range(J)), list(range(J)), method=theirs, compute_diagnostics=False)
        assert pytest.approx(ref.constants.A, abs=1e-8) == r.A, ours  # measured |diff| <= 3e-12
        assert pytest.approx(ref.constants.B, abs=1e-8) == r.B, ours


def test_bad_input() -> None:
    rng = np.random.default_rng(6)
    p = _mixed_params(rng)
    q = _mixed_params(rng, prefix="x")
    with pytest.raises(ScoringInputError, match="share no item"):
        link(p, q)
    with pytest.raises(ScoringInputError, match="method"):
        link(p, p, method="equipercentile")
    with pytest.raises(ScoringInputError, match="not in params_to"):
        link(p, q, common=["i0"])
    with pytest.raises(ScoringInputError, match="same model"):
        link(p, p, common=[(0, 9)])
    with pytest.raises(ScoringInputError, match="spread"):
        link(p, p, common=["i0"], method="mean-sigma")
    with pytest.raises(ScoringInputError, match="theta_weights"):
        link(p, p, theta_points=[0.0, 1.0], theta_weights=[1.0])


def test_curve_link_starts_at_identity_when_moment_starts_fail() -> None:
    # regression: equal thresholds (mean-sigma impossible) and slope means of opposite sign
    # (mean-mean A = -2) made link() crash in scipy with "Initial guess is outside of provided bounds"
    from scipy import optimize, stats

    fr = ItemParameters("2pl", [1.0, -1.04], [-0.5, 0.52], item_names=["x", "y"])  # b = 0.5, 0.5
    to = ItemParameters("2pl", [0.8, -0.78], [-0.8 * 0.925, 0.78 * 0.925], item_names=["x", "y"])  # b = 0.925
    assert np.mean(fr.a) < 0 < np.mean(to.a)
    res = link(fr, to, method="haebara")
    # independent Haebara criterion (to-scale grid, normal weights) minimised by Nelder-Mead
    theta = np.linspace(-4.0, 4.0, 61)
    w = stats.norm.pdf(theta)
    w /= w.sum()

    def crit(x: np.ndarray) -> float:
        moved = transform_parameters(fr, float(x[0]), float(x[1]))
        diff = category_probabilities(theta, to)[:, :, 1] - category_probabilities(theta, moved)[:, :, 1]
        return float(w @ (diff**2).sum(axis=1))

    ref = optimize.minimize(crit, [1.2, 0.3], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-16})
    assert pytest.approx(ref.x[0], abs=1e-4) == res.A
    assert pytest.approx(ref.x[1], abs=1e-4) == res.B
    assert res.criterion == pytest.approx(crit(np.array([res.A, res.B])), rel=1e-6)
    with pytest.raises(ScoringInputError, match="slopes whose means have the same sign"):
        link(fr, to, method="mean-mean")


@pytest.mark.parametrize("method", ["haebara", "stocking-lord"])
def test_curve_link_reversed_scale_is_an_input_error(method: str) -> None:
    # every slope changes sign: no A > 0 matches the curves (the optimum runs off to A ~ 1e16)
    to = ItemParameters("2pl", [-1.0, -0.5], [0.2, 0.1], item_names=["x", "y"])
    fr = ItemParameters("2pl", [1.0, 0.5], [0.2, 0.1], item_names=["x", "y"])
    with pytest.raises(ScoringInputError, match=f"common: {method} linking degenerated"):
        link(fr, to, method=method)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 8),
    st.integers(0, 3),
    st.sampled_from(METHODS),
)
def test_linking_onto_itself_is_identity(seed: int, n_dich: int, n_poly: int, method: str) -> None:
    p = _mixed_params(np.random.default_rng(seed), n_dich, n_poly)
    if method == "mean-sigma" and np.std(p.b[np.isfinite(p.b)]) < 1e-6:
        return
    res = link(p, p, method=method)
    assert pytest.approx(1.0, abs=1e-8) == res.A
    assert pytest.approx(0.0, abs=1e-8) == res.B


@settings(max_examples=25, deadline=None)
@given(st.floats(0.3, 3.0), st.floats(-3.0, 3.0), st.integers(0, 2**32 - 1))
def test_transform_roundtrip(A: float, B: float, seed: int) -> None:
    p = _mixed_params(np.random.default_rng(seed), 4, 2)
    back = transform_parameters(transform_parameters(p, A, B), 1 / A, -B / A)
    np.testing.assert_allclose(back.a, p.a, rtol=1e-12)
    np.testing.assert_allclose(back.d, p.d, atol=1e-10)


def test_vertical_linking_of_two_separate_calibrations() -> None:
    """Grade 5 and grade 8 calibrated separately (each fixed to N(0, 1)), 8 anchors.

    Grade 8's true population on the grade-5 scale is N(0.8, 1.2^2), so the
    link must recover A ~ 1.2 and B ~ 0.8 (tolerance 0.1: anchor estimation error
    at N = 4000 per grade).
    """
    from scoring.calibration import calibrate

    rng = np.random.default_rng(58)
    n = 4000
    a5, d5 = rng.uniform(0.8, 1.8, 20), rng.normal(0.3, 1.0, 20)
    a8u, d8u = rng.uniform(0.8, 1.8, 16), rng.normal(-0.5, 1.0, 16)
    anchors = np.arange(12, 20)  # grade-5 items 12..19 also appear on the grade-8 form
    a8 = np.concatenate([a5[anchors], a8u])
    d8 = np.concatenate([d5[anchors], d8u])  # true parameters on the grade-5 scale
    th5 = rng.normal(0.0, 1.0, n)
    th8 = rng.normal(0.8, 1.2, n)
    x5 = (rng.random((n, 20)) < 1 / (1 + np.exp(-(th5[:, None] * a5 + d5)))).astype(float)
    x8 = (rng.random((n, 24)) < 1 / (1 + np.exp(-(th8[:, None] * a8 + d8)))).astype(float)
    names5 = [f"g5_{j}" for j in range(20)]
    names8 = [names5[j] for j in anchors] + [f"g8_{j}" for j in range(16)]
    cal5 = calibrate(x5, model="2pl", item_names=names5)
    cal8 = calibrate(x8, model="2pl", item_names=names8)
    for method in METHODS:
        res = link(cal8.params, cal5.params, method=method)
        assert len(res.common_names) == 8
        assert pytest.approx(1.2, abs=0.1) == res.A, method
        assert pytest.approx(0.8, abs=0.1) == res.B, method
    # calibrations linked onto themselves: identity
    for method in METHODS:
        ident = link(cal5.params, cal5.params, method=method)
        assert pytest.approx((1.0, 0.0), abs=1e-8) == (ident.A, ident.B)


def test_jackknife_ses_are_zero_for_exact_anchors_and_track_the_spread_of_noisy_ones() -> None:
    """link(se=True): no anchor moves an exact link; with noisy anchors the jackknife SE matches the Monte Carlo
    SD of the constants over fresh anchor noise (within a factor 1.6), and two anchors give NaN."""
    rng = np.random.default_rng(5)
    J = 10
    a, b = rng.uniform(0.8, 2.0, J), rng.normal(0, 1, J)
    base = ItemParameters(("2pl",) * J, a, (-a * b)[:, None], item_names=tuple(f"i{j}" for j in range(J)))
    A, B = 1.2, -0.3  # theta_base = A theta_from + B: from-scale b = (b - B) / A, a = a A

    def from_set(noise: float) -> ItemParameters:
        bf = (b - B) / A + rng.normal(0, noise, J)
        af = a * A * np.exp(rng.normal(0, noise / 2, J))
        return ItemParameters(("2pl",) * J, af, (-af * bf)[:, None], item_names=base.item_names)

    exact = link(from_set(0.0), base, method="stocking-lord", se=True)
    assert pytest.approx(A, abs=1e-8) == exact.A and exact.se_A == pytest.approx(0, abs=1e-6)
    assert exact.se_B == pytest.approx(0, abs=1e-6)
    assert np.isnan(link(from_set(0.0).take([0, 1]), base, se=True).se_A)
    assert np.isnan(link(from_set(0.1), base).se_A)  # only when asked for
    reps = [link(from_set(0.15), base, method="haebara", se=True) for _ in range(60)]
    mc_A, mc_B = np.std([r.A for r in reps]), np.std([r.B for r in reps])
    jk_A, jk_B = np.mean([r.se_A for r in reps]), np.mean([r.se_B for r in reps])
    assert mc_A / 1.6 < jk_A < mc_A * 1.6, (jk_A, mc_A)
    assert mc_B / 1.6 < jk_B < mc_B * 1.6, (jk_B, mc_B)
