"""Tests for scoring.scale (scale scores and proficiency levels)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scoring.errors import ScoringInputError
from scoring.scale import (
    ReportingScale,
    proficiency_levels,
    scale_scores,
    scale_standard_errors,
    theta_from_scale,
)

LEVELS = ["萌芽", "基礎", "精熟", "進階"]


def test_scale_scores_base_population() -> None:
    rng = np.random.default_rng(0)
    theta = rng.normal(0.3, 1.2, 200_000)
    s = scale_scores(theta, base_mean=0.3, base_sd=1.2)
    assert s.mean() == pytest.approx(500, abs=1.0)
    assert s.std() == pytest.approx(100, abs=1.0)
    np.testing.assert_allclose(theta_from_scale(s, base_mean=0.3, base_sd=1.2), theta, atol=1e-12)
    assert scale_scores(np.nan) != scale_scores(np.nan)  # NaN propagates
    np.testing.assert_allclose(scale_standard_errors([0.3], base_sd=1.2), [25.0])
    assert scale_scores([0.0, 1.0, -1.0]).tolist() == [500.0, 600.0, 400.0]


def test_levels_cut_belongs_to_upper_level() -> None:
    lv = proficiency_levels([399.9, 400.0, 475.0, 550.0, 600.0, np.nan, 1000.0], cuts=[400, 500, 600], labels=LEVELS)
    assert lv.index.tolist() == [0, 1, 1, 2, 3, -1, 3]
    assert lv.labels.tolist() == ["萌芽", "基礎", "基礎", "精熟", "進階", "", "進階"]
    assert lv.counts.tolist() == [1, 2, 1, 2]
    assert lv.level_labels == tuple(LEVELS)


def test_levels_shape_preserved_for_plausible_value_matrix() -> None:
    pv = np.random.default_rng(1).normal(500, 100, size=(50, 5))
    lv = proficiency_levels(pv, [420, 500, 580])
    assert lv.index.shape == (50, 5)
    assert lv.counts.sum() == 250
    assert lv.level_labels == ("level0", "level1", "level2", "level3")


@pytest.mark.parametrize(
    ("cuts", "labels", "match"),
    [([500, 400], None, "increasing"), ([400, 500], ["a", "b"], "labels"), ([], None, "cuts"), ([np.nan], None, "cuts")],
)
def test_bad_cuts(cuts: list[float], labels: list[str] | None, match: str) -> None:
    with pytest.raises(ScoringInputError, match=match):
        proficiency_levels([1.0], cuts, labels)


def test_bad_linear_config() -> None:
    with pytest.raises(ScoringInputError, match="sd"):
        scale_scores([0.0], sd=0)
    with pytest.raises(ScoringInputError, match="base_sd"):
        scale_scores([0.0], base_sd=-1)


def test_reporting_scale_from_mapping() -> None:
    cfg = {
        "mean": 500,
        "sd": 100,
        "levels": [
            {"label": "萌芽", "min": None},
            {"label": "基礎", "min": 420},
            {"label": "精熟", "min": 510},
            {"label": "進階", "min": 600},
        ],
    }
    sc = ReportingScale.from_mapping(cfg)
    assert sc.cuts == (420.0, 510.0, 600.0)
    assert sc.labels == tuple(LEVELS)
    assert sc.levels(sc.scores([-2.0, 0.0, 0.2, 1.5])).labels.tolist() == ["萌芽", "基礎", "精熟", "進階"]
    assert sc.theta(600.0) == pytest.approx(1.0)
    same = ReportingScale.from_mapping({"cuts": [420, 510, 600], "labels": LEVELS})
    assert same == sc
    with pytest.raises(ScoringInputError, match="unknown"):
        ReportingScale.from_mapping({"means": 500})
    with pytest.raises(ScoringInputError, match="label"):
        ReportingScale.from_mapping({"levels": [{"name": "x"}, {"name": "y", "min": 3}]})
    with pytest.raises(ScoringInputError, match="cut"):
        ReportingScale().levels([500.0])


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 50), elements=finite),
    st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=1, max_size=6, unique=True),
    st.floats(1e-3, 1e3),
    st.floats(-10, 10),
)
def test_monotone_invariants(theta: np.ndarray, cuts: list[float], sd: float, base_mean: float) -> None:
    cuts = sorted(cuts)
    s = scale_scores(theta, mean=500, sd=sd, base_mean=base_mean, base_sd=1.0)
    order = np.argsort(theta, kind="stable")
    # scale scores are strictly increasing in theta
    assert np.all(np.diff(s[order]) >= 0)
    lv = proficiency_levels(s, cuts)
    # levels are non-decreasing in the score and consistent with the cuts
    assert np.all(np.diff(lv.index[order]) >= 0)
    assert np.all((lv.index >= 0) & (lv.index <= len(cuts)))
    below = np.asarray([np.sum(np.asarray(cuts) <= v) for v in s])
    assert lv.index.tolist() == below.tolist()
