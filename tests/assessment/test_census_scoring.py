"""Per-booklet ability estimation gives the same estimates as one call over every column."""
from __future__ import annotations

import numpy as np
import pytest

from assessment.census_scoring import _estimate_by_form, dimension_profile
from scoring import ItemParameters, estimate_ability


@pytest.mark.parametrize("method", ["eap", "wle"])
def test_scoring_each_booklet_on_its_items_matches_scoring_all_columns(method: str) -> None:
    rng = np.random.default_rng(4)
    J = 30
    params = ItemParameters("2pl", rng.uniform(0.7, 2.0, J), rng.normal(0, 1, J))
    x = (rng.random((900, J)) < 0.55).astype(float)
    booklet = rng.integers(0, 3, 900)
    for b in range(3):  # each booklet leaves out its own 10 columns
        x[np.ix_(booklet == b, np.arange(10 * b, 10 * b + 10))] = np.nan
    x[:5, 12] = np.nan  # a few odd patterns (an imported gap) too
    mu, sd = rng.normal(0, 0.3, 900), np.full(900, 1.1)
    kw = {"prior_mean": mu, "prior_sd": sd} if method == "eap" else {}
    ours = _estimate_by_form(x, params, method, **kw)  # type: ignore[arg-type]
    ref = estimate_ability(x, params, method, **kw)  # type: ignore[arg-type]
    tol = 1e-5 if method == "eap" else 1e-8  # EAP sums its quadrature in float32 blocks
    np.testing.assert_allclose(ours.theta, ref.theta, rtol=0, atol=tol)
    np.testing.assert_allclose(ours.se, ref.se, rtol=0, atol=tol)
    assert np.array_equal(ours.n_responses, ref.n_responses)


def test_dimension_profile_is_percent_of_the_presented_maximum() -> None:
    scores = np.array([[1.0, 2.0, np.nan, 0.0], [np.nan, np.nan, 1.0, 1.0]])
    out = dimension_profile(scores, np.array([1, 2, 1, 1]), ("D1", "D1", "D2", "D3"))
    np.testing.assert_allclose(out[0], [100.0, np.nan, 0.0, np.nan])
    np.testing.assert_allclose(out[1], [np.nan, 100.0, 100.0, np.nan])
