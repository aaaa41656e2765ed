"""Tests for scoring.ctt (classical item analysis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scoring.ctt import ctt_item_stats, distractor_counts
from scoring.errors import ScoringInputError


def _reference_stats(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Textbook complete-data formulas with an explicit loop over items."""
    J = x.shape[1]
    total = x.sum(axis=1)
    alpha = J / (J - 1) * (1 - x.var(axis=0, ddof=1).sum() / total.var(ddof=1))
    r_rest = np.empty(J)
    a_del = np.empty(J)
    for j in range(J):
        rest = total - x[:, j]
        r_rest[j] = np.corrcoef(x[:, j], rest)[0, 1]
        sub = np.delete(x, j, axis=1)
        a_del[j] = (J - 1) / (J - 2) * (
            1 - sub.var(axis=0, ddof=1).sum() / sub.sum(axis=1).var(ddof=1)
        )
    return alpha, r_rest, a_del


def _simulate(rng: np.random.Generator, n: int = 800, J: int = 10) -> np.ndarray:
    theta = rng.standard_normal(n)
    b = np.linspace(-1.5, 1.5, J)
    p = 1 / (1 + np.exp(-(1.2 * (theta[:, None] - b))))
    return (rng.random((n, J)) < p).astype(float)


def test_complete_data_matches_textbook_formulas() -> None:
    rng = np.random.default_rng(1)
    x = _simulate(rng)
    x[:, 3] += (rng.random(x.shape[0]) < 0.4) * x[:, 3]  # a 0/1/2 item
    res = ctt_item_stats(x)
    alpha, r_rest, a_del = _reference_stats(x)
    assert res.alpha == pytest.approx(alpha, abs=1e-12)
    np.testing.assert_allclose(res.item_rest_r, r_rest, atol=1e-12)
    np.testing.assert_allclose(res.alpha_if_deleted, a_del, atol=1e-12)
    np.testing.assert_allclose(res.p_value, x.mean(axis=0) / x.max(axis=0), atol=1e-12)
    total = x.sum(axis=1)
    r_tot = [np.corrcoef(x[:, j], total)[0, 1] for j in range(x.shape[1])]
    np.testing.assert_allclose(res.item_total_r, r_tot, atol=1e-12)
    assert res.n_persons == x.shape[0]
    assert np.all(res.n_answered == x.shape[0])
    # listwise equals pairwise without missing data
    lw = ctt_item_stats(x, missing="listwise")
    assert lw.alpha == pytest.approx(res.alpha, abs=1e-12)


def test_hand_computed_small_example() -> None:
    # 4 persons x 3 items (Guttman pattern), computed by hand:
    x = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float)
    res = ctt_item_stats(x)
    # item variances (ddof=1) 1/4, 1/3, 1/4 -> 5/6; totals 3,2,1,0 -> variance 5/3
    # alpha = 3/2 * (1 - (5/6) / (5/3)) = 0.75
    assert res.alpha == pytest.approx(0.75, abs=1e-12)
    np.testing.assert_allclose(res.p_value, [0.75, 0.5, 0.25])
    # item 1 vs rest (1+1, 1+0, 0, 0) = (2,1,0,0): r = 0.7385489...
    assert res.item_rest_r[0] == pytest.approx(np.corrcoef([1, 1, 1, 0], [2, 1, 0, 0])[0, 1])


def test_max_scores_and_partial_credit() -> None:
    x = np.array([[0, 2], [1, 1], [1, 0], [0, 2]], dtype=float)
    res = ctt_item_stats(x, max_scores=[1, 4])
    np.testing.assert_allclose(res.p_value, [0.5, 5 / 16])
    with pytest.raises(ScoringInputError, match="max_scores"):
        ctt_item_stats(x, max_scores=[1, 1])
    with pytest.raises(ScoringInputError, match="max_scores"):
        ctt_item_stats(x, max_scores=[1])


def test_pairwise_missing_rotated_booklets() -> None:
    rng = np.random.default_rng(2)
    full = _simulate(rng, n=3000, J=9)
    x = full.copy()
    booklet = rng.integers(0, 3, size=x.shape[0])
    # each booklet omits one block of 3 items
    for bk in range(3):
        x[np.ix_(booklet == bk, np.arange(3 * bk, 3 * bk + 3))] = np.nan
    res = ctt_item_stats(x)
    ref = ctt_item_stats(full)
    assert np.all(res.n_answered < x.shape[0])
    # pairwise statistics estimate the complete-data ones (MCAR design)
    np.testing.assert_allclose(res.p_value, ref.p_value, atol=0.03)
    assert res.alpha == pytest.approx(ref.alpha, abs=0.03)
    np.testing.assert_allclose(res.item_rest_r, ref.item_rest_r, atol=0.06)
    with pytest.raises(ScoringInputError, match="listwise"):
        ctt_item_stats(x, missing="listwise")


def test_zero_variance_item_gives_nan_correlation() -> None:
    x = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 1]], dtype=float)
    res = ctt_item_stats(x)
    assert np.isnan(res.item_rest_r[0])
    assert np.isfinite(res.item_rest_r[1])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros(5), "2-D"),
        (np.array([[1.0, np.inf]]), "inf"),
        (np.array([[1.0, -1.0], [0, 1]]), "negative"),
        ([["a", "b"]], "numbers"),
    ],
)
def test_bad_input(bad: object, match: str) -> None:
    with pytest.raises(ScoringInputError, match=match):
        ctt_item_stats(bad)  # type: ignore[arg-type]


_matrices = arrays(
    np.float64,
    st.tuples(st.integers(5, 30), st.integers(3, 6)),
    elements=st.sampled_from([0.0, 1.0, 2.0, np.nan]),
)


@settings(max_examples=40, deadline=None)
@given(_matrices, st.randoms(use_true_random=False))
def test_alpha_at_most_one_and_permutation_invariant(x: np.ndarray, rnd: object) -> None:
    res = ctt_item_stats(x)
    # alpha <= 1 needs a positive semi-definite covariance matrix: true for complete
    # (listwise) data, not for pairwise covariances of incomplete data.
    complete = ctt_item_stats(x, missing="listwise") if (~np.isnan(x)).all(axis=1).sum() >= 2 else None
    if complete is not None:
        if np.isfinite(complete.alpha):
            assert complete.alpha <= 1 + 1e-12
        assert np.all(np.isnan(complete.alpha_if_deleted) | (complete.alpha_if_deleted <= 1 + 1e-12))
    perm = np.random.default_rng(0).permutation(x.shape[0])
    res_p = ctt_item_stats(x[perm])
    np.testing.assert_allclose(res_p.alpha, res.alpha, equal_nan=True, atol=1e-9)
    np.testing.assert_allclose(res_p.item_rest_r, res.item_rest_r, equal_nan=True, atol=1e-9)
    # permuting items permutes item results
    iperm = np.arange(x.shape[1])[::-1]
    res_i = ctt_item_stats(x[:, iperm])
    np.testing.assert_allclose(res_i.p_value, res.p_value[iperm], equal_nan=True, atol=1e-12)
    np.testing.assert_allclose(
        res_i.alpha_if_deleted, res.alpha_if_deleted[iperm], equal_nan=True, atol=1e-9
    )


def test_distractor_counts() -> None:
    choices = np.array(
        [
            ["A", "C"],
            ["B", "C"],
            ["A", None],
            ["A", "D"],
            ["C", "C"],
            ["", "B"],
        ],
        dtype=object,
    )
    tab = distractor_counts(choices, key=["A", "C"], item_names=["q1", "q2"], group_fraction=None)
    assert tab.options == ("A", "B", "C", "D")
    np.testing.assert_array_equal(tab.counts, [[3, 1, 1, 0], [0, 1, 3, 1]])
    np.testing.assert_array_equal(tab.n_answered, [5, 5])
    np.testing.assert_array_equal(tab.n_missing, [1, 1])
    np.testing.assert_array_equal(tab.key_index, [0, 2])
    np.testing.assert_allclose(tab.proportions[0], [0.6, 0.2, 0.2, 0.0])
    assert tab.upper_proportions is None


def test_distractor_upper_lower_groups() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    theta = rng.standard_normal(n)
    correct = rng.random(n) < 1 / (1 + np.exp(-1.5 * theta))
    # a working distractor "B" attracts low-ability persons, "D" is random
    wrong = np.where(rng.random(n) < 1 / (1 + np.exp(1.5 * theta)), "B", rng.choice(["C", "D"], n))
    choices = np.where(correct, "A", wrong)[:, None]
    tab = distractor_counts(choices, key=["A"], scores=theta)
    assert tab.discrimination is not None and tab.lower_proportions is not None
    k = tab.options.index
    assert tab.discrimination[0, k("A")] > 0.3
    assert tab.discrimination[0, k("B")] < -0.1
    assert tab.counts.sum() == n
    with pytest.raises(ScoringInputError, match="key"):
        distractor_counts(choices, key=["A", "B"])
    with pytest.raises(ScoringInputError, match="scores"):
        distractor_counts(choices, key=["A"], scores=np.zeros(3))


def test_keys_score_option_labels() -> None:
    choices = np.array([["A", "C", None], ["B", "C", "D"], ["A", "D", "D"], ["A", "C", ""]], dtype=object)
    res = ctt_item_stats(choices, keys=["A", "C", "D"])
    np.testing.assert_allclose(res.p_value, [0.75, 0.75, 1.0])
    np.testing.assert_array_equal(res.n_answered, [4, 4, 2])
    with pytest.raises(ScoringInputError, match="keys"):
        ctt_item_stats(choices, keys=["A"])
