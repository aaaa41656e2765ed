"""Tests for scoring.dif (Mantel–Haenszel DIF)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from scoring.dif import dif_mantel_haenszel
from scoring.errors import ScoringInputError


def _table_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One studied item in two strata with known 2x2 tables.

    stratum 0: reference 10 right / 10 wrong, focal 5 right / 15 wrong
    stratum 1: reference 20 right /  5 wrong, focal 12 right /  8 wrong
    """
    cells = [  # (stratum, group, score, count)
        (0, "R", 1, 10), (0, "R", 0, 10), (0, "F", 1, 5), (0, "F", 0, 15),
        (1, "R", 1, 20), (1, "R", 0, 5), (1, "F", 1, 12), (1, "F", 0, 8),
    ]  # fmt: skip
    strata, groups, scores = [], [], []
    for s, gr, y, cnt in cells:
        strata += [s] * cnt
        groups += [gr] * cnt
        scores += [y] * cnt
    return np.array(scores, float)[:, None], np.array(groups), np.array(strata, float)


def test_hand_computed_two_strata() -> None:
    x, g, s = _table_data()
    res = dif_mantel_haenszel(x, g, focal="F", reference="R", matching=s)
    # By hand: sum AD/T = 150/40 + 160/45, sum BC/T = 50/40 + 60/45
    r = 150 / 40 + 160 / 45
    q = 50 / 40 + 60 / 45
    assert res.alpha_mh[0] == pytest.approx(r / q, rel=1e-12)  # 2.82796
    assert res.alpha_mh[0] == pytest.approx(2.82796, abs=1e-5)
    assert res.mh_d_dif[0] == pytest.approx(-2.35 * np.log(r / q), rel=1e-12)  # -2.44297
    # E(A) = 20*15/40 + 25*32/45; Var(A) = 20*20*15*25/(40^2*39) + 25*20*32*13/(45^2*44)
    ea = 20 * 15 / 40 + 25 * 32 / 45
    va = 20 * 20 * 15 * 25 / (40**2 * 39) + 25 * 20 * 32 * 13 / (45**2 * 44)
    chi = (abs(30 - ea) - 0.5) ** 2 / va
    assert res.chi_square[0] == pytest.approx(chi, rel=1e-12)  # 3.76235
    assert res.chi_square[0] == pytest.approx(3.76235, abs=1e-4)
    assert res.p_value[0] == pytest.approx(stats.chi2.sf(chi, 1), rel=1e-10)
    # Robins-Breslow-Greenland variance of ln(alpha), by hand
    P = np.array([25 / 40, 28 / 45])
    Q = 1 - P
    Rk = np.array([150 / 40, 160 / 45])
    Sk = np.array([50 / 40, 60 / 45])
    var = (P * Rk).sum() / (2 * r**2) + (P * Sk + Q * Rk).sum() / (2 * r * q) + (Q * Sk).sum() / (
        2 * q**2
    )
    assert res.mh_d_dif_se[0] == pytest.approx(2.35 * np.sqrt(var), rel=1e-12)
    # STD P-DIF: focal weights 20, 20; differences 5/20-10/20, 12/20-20/25
    assert res.smd[0] == pytest.approx(0.5 * (0.25 - 0.5) + 0.5 * (0.6 - 0.8))
    # chi-square not significant (p = 0.052) -> A, even though |D| > 1.5
    assert res.p_value[0] > 0.05
    assert res.classification == ("A",)
    assert res.n_focal[0] == 40 and res.n_reference[0] == 45 and res.n_strata[0] == 2


def test_hand_computed_doubled_is_significant_c() -> None:
    x, g, s = _table_data()
    # Four copies: same alpha, chi-square ~4x -> significant; |D| = 2.44 well above 1
    x4, g4, s4 = np.tile(x, (4, 1)), np.tile(g, 4), np.tile(s, 4)
    res = dif_mantel_haenszel(x4, g4, "F", "R", matching=s4)
    r = 150 / 40 + 160 / 45
    q = 50 / 40 + 60 / 45
    assert res.alpha_mh[0] == pytest.approx(r / q, rel=1e-12)
    assert res.p_value[0] < 0.001
    assert (abs(res.mh_d_dif[0]) - 1) / res.mh_d_dif_se[0] > 1.645
    assert res.classification == ("C",)


def _rasch(rng: np.random.Generator, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))
    return (rng.random(p.shape) < p).astype(float)


def test_simulated_rasch_dif_recovered() -> None:
    rng = np.random.default_rng(11)
    n, J = 3000, 20
    b = np.linspace(-2, 2, J)
    theta_r = rng.normal(0.0, 1.0, n)
    theta_f = rng.normal(-0.5, 1.0, n)  # impact is not DIF
    b_f = b.copy()
    b_f[3] += 1.0  # harder for focal: true ln(alpha) = 1.0, D = -2.35
    b_f[10] -= 0.6  # easier for focal: D = +1.41
    x = np.vstack([_rasch(rng, theta_r, b), _rasch(rng, theta_f, b_f)])
    g = np.array(["ref"] * n + ["foc"] * n)
    res = dif_mantel_haenszel(x, g, "foc", "ref")
    # Under the Rasch model MH with total-score matching estimates the logit
    # shift (Holland & Thayer, 1988); tolerance 3 SE (SE ~ 0.13 here).
    assert res.mh_d_dif[3] == pytest.approx(-2.35, abs=0.4)
    assert res.mh_d_dif[10] == pytest.approx(2.35 * 0.6, abs=0.4)
    assert res.classification[3] == "C"
    assert res.classification[10] in ("B", "C")
    others = [c for j, c in enumerate(res.classification) if j not in (3, 10)]
    assert others.count("A") >= 16
    assert "C" not in others
    # purification does not change the verdict on the DIF item and removes it from the criterion
    pur = dif_mantel_haenszel(x, g, "foc", "ref", purify=True)
    assert pur.classification[3] == "C"
    assert abs(pur.mh_d_dif[3] + 2.35) <= abs(res.mh_d_dif[3] + 2.35) + 0.2


def test_polytomous_item_mantel_and_smd() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    theta = rng.normal(size=2 * n)
    b = np.linspace(-1.5, 1.5, 12)
    x = _rasch(rng, theta, b)
    g = np.array(["r"] * n + ["f"] * n)
    # partial-credit item: focal persons need 0.8 logits more for each step
    shift = np.where(g == "f", 0.8, 0.0)
    steps = (rng.random((2 * n, 2)) < 1 / (1 + np.exp(-(theta[:, None] - shift[:, None] - [[-0.5, 0.5]]))))
    x = np.column_stack([x, steps.sum(axis=1)])
    res = dif_mantel_haenszel(x, g, "f", "r")
    assert res.polytomous.tolist() == [False] * 12 + [True]
    assert np.isnan(res.alpha_mh[12]) and np.isnan(res.mh_d_dif[12])
    assert res.smd[12] < -0.2
    assert res.classification[12] == "CC"
    assert res.p_value[12] < 1e-6
    assert res.classification[:12].count("C") == 0


def test_missing_needs_matching_and_is_excluded_per_item() -> None:
    x, g, s = _table_data()
    x = np.column_stack([x, x])
    x[0, 1] = np.nan
    with pytest.raises(ScoringInputError, match="matching"):
        dif_mantel_haenszel(x, g, "F", "R")
    res = dif_mantel_haenszel(x, g, "F", "R", matching=s)
    assert res.n_reference[0] + res.n_focal[0] == x.shape[0]
    assert res.n_reference[1] + res.n_focal[1] == x.shape[0] - 1


def test_persons_in_other_groups_are_ignored() -> None:
    x, g, s = _table_data()
    extra = np.ones((7, 1))
    res_a = dif_mantel_haenszel(x, g, "F", "R", matching=s)
    res_b = dif_mantel_haenszel(
        np.vstack([x, extra]), np.concatenate([g, ["X"] * 7]), "F", "R", matching=np.concatenate([s, np.zeros(7)])
    )
    np.testing.assert_allclose(res_a.chi_square, res_b.chi_square)


def test_bad_input() -> None:
    x, g, s = _table_data()
    with pytest.raises(ScoringInputError, match="group"):
        dif_mantel_haenszel(x, g[:-1], "F", "R")
    with pytest.raises(ScoringInputError, match="focal"):
        dif_mantel_haenszel(x, g, "Z", "R")
    with pytest.raises(ScoringInputError, match="reference"):
        dif_mantel_haenszel(x, g, "F", "Z")
    with pytest.raises(ScoringInputError, match="matching"):
        dif_mantel_haenszel(x, g, "F", "R", matching=s[:3])
    with pytest.raises(ScoringInputError, match="integer"):
        dif_mantel_haenszel(x + 0.5, g, "F", "R", matching=s)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(4, 40), st.integers(2, 6)), elements=st.sampled_from([0.0, 1.0]))
)
def test_identical_groups_show_no_dif(x: np.ndarray) -> None:
    """Focal group = an exact copy of the reference group: alpha_MH = 1, no C items."""
    both = np.vstack([x, x])
    g = np.array([0] * len(x) + [1] * len(x))
    res = dif_mantel_haenszel(both, g, focal=1, reference=0)
    assert "C" not in res.classification and "B" not in res.classification
    ok = np.isfinite(res.alpha_mh)
    np.testing.assert_allclose(res.alpha_mh[ok], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res.smd[np.isfinite(res.smd)], 0.0, atol=1e-12)
    # permuting persons permutes nothing: item results unchanged
    perm = np.random.default_rng(0).permutation(len(both))
    res_p = dif_mantel_haenszel(both[perm], g[perm], focal=1, reference=0)
    np.testing.assert_allclose(res_p.chi_square, res.chi_square, equal_nan=True)
