"""Tests for scoring.models: probabilities, information, (a, b) conversion, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    ItemParameters,
    ScoringInputError,
    category_probabilities,
    expected_score,
    from_irt_parameters,
    item_information,
    test_information,
    to_irt_parameters,
)

NAN = np.nan


def _mixed() -> ItemParameters:
    return ItemParameters(
        model=("1pl", "2pl", "3pl", "grm", "gpcm", "gpcm"),
        a=[1.0, 1.4, 1.6, 1.2, 0.8, 1.1],
        d=[
            [0.2, NAN, NAN],
            [0.5, NAN, NAN],
            [-1.0, NAN, NAN],
            [1.5, 0.0, -1.2],
            [0.5, -0.5, 0.3],
            [0.3, NAN, NAN],
        ],
        c=[0, 0, 0.2, 0, 0, 0],
    )


def test_dichotomous_formula() -> None:
    p = ItemParameters(model="3pl", a=[1.5], d=[-0.5], c=[0.25])
    th = np.array([-1.0, 0.0, 2.0])
    got = category_probabilities(th, p)[:, 0, 1]
    want = 0.25 + 0.75 / (1 + np.exp(-(1.5 * th - 0.5)))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_grm_formula() -> None:
    p = ItemParameters(model="grm", a=[1.2], d=[[1.0, -0.5]])
    th = np.array([0.3])
    s1 = 1 / (1 + np.exp(-(1.2 * 0.3 + 1.0)))
    s2 = 1 / (1 + np.exp(-(1.2 * 0.3 - 0.5)))
    np.testing.assert_allclose(category_probabilities(th, p)[0, 0], [1 - s1, s1 - s2, s2], rtol=1e-12)


def test_gpcm_formula_matches_mirt_cumulative_form() -> None:
    # mirt gpcm: P(k) ∝ exp(a*k*theta + dm_k), dm cumulative with dm_0 = 0
    a, dstep = 0.9, np.array([0.7, -0.4, 0.1])
    dm = np.concatenate([[0.0], np.cumsum(dstep)])
    th = 0.6
    z = a * np.arange(4) * th + dm
    want = np.exp(z) / np.exp(z).sum()
    p = ItemParameters(model="gpcm", a=[a], d=[dstep])
    np.testing.assert_allclose(category_probabilities([th], p)[0, 0], want, rtol=1e-12)


def test_gpcm_two_categories_equals_2pl() -> None:
    p = ItemParameters(model=("gpcm", "2pl"), a=[1.3, 1.3], d=[0.4, 0.4])
    pr = category_probabilities(np.linspace(-5, 5, 21), p)
    np.testing.assert_allclose(pr[:, 0], pr[:, 1], atol=1e-14)


def test_padding_is_zero_and_rows_sum_to_one() -> None:
    pr = category_probabilities(np.linspace(-8, 8, 33), _mixed())
    np.testing.assert_allclose(pr.sum(axis=2), 1.0, atol=1e-12)
    assert np.all(pr[:, :3, 2:] == 0)
    assert np.all(pr[:, 5, 2:] == 0)
    assert not np.isnan(pr).any()


def test_information_matches_numeric_derivative() -> None:
    p = _mixed()
    th = np.linspace(-4, 4, 17)
    h = 1e-5
    P = category_probabilities(th, p)
    dP = (category_probabilities(th + h, p) - category_probabilities(th - h, p)) / (2 * h)
    num = np.where(P > 0, dP**2 / np.where(P > 0, P, 1), 0).sum(axis=2)
    np.testing.assert_allclose(item_information(th, p), num, atol=1e-8)
    np.testing.assert_allclose(test_information(th, p), num.sum(axis=1), atol=1e-7)


def test_expected_score() -> None:
    p = _mixed()
    es = expected_score([-30.0, 30.0], p)
    np.testing.assert_allclose(es[0], [0, 0, 0.2, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(es[1], [1, 1, 1, 3, 3, 1], atol=1e-9)


def test_irt_conversion_roundtrip() -> None:
    p = _mixed()
    a, b, c = to_irt_parameters(p.a, p.d, p.c, model=p.model)
    np.testing.assert_allclose(b[:, 0], -p.d[:, 0] / p.a)
    _a2, d2, _c2 = from_irt_parameters(a, b, c, model=p.model)
    np.testing.assert_allclose(d2, p.d)
    np.testing.assert_array_equal(np.isnan(d2), np.isnan(p.d))
    _a3, b3 = to_irt_parameters([1.0, 2.0], [1.0, -1.0])
    np.testing.assert_allclose(b3, [-1.0, 0.5])
    np.testing.assert_allclose(p.b, b)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "2pl", "a": [1.0, 1.0], "d": [0.0]}, "'d' must have shape"),
        ({"model": "2pl", "a": [[1.0]], "d": [0.0]}, "'a' must be 1-D"),
        ({"model": "2pl", "a": [1.0], "d": [0.0], "c": [0.1]}, "'c' must be 0"),
        ({"model": "3pl", "a": [1.0], "d": [0.0], "c": [1.2]}, r"'c' must lie in \[0, 1\)"),
        ({"model": "grm", "a": [1.0], "d": [[0.0, 1.0]]}, "strictly decreasing"),
        ({"model": "2pl", "a": [1.0], "d": [[0.0, 1.0]]}, "NaN elsewhere"),
        ({"model": "xyz", "a": [1.0], "d": [0.0]}, "expected one of"),
        ({"model": ("2pl", "2pl"), "a": [1.0], "d": [0.0]}, "one model name per item"),
        ({"model": "2pl", "a": [np.inf], "d": [0.0]}, "'a' must be finite"),
        ({"model": "2pl", "a": [1.0], "d": [0.0], "item_names": ("x", "y")}, "'item_names'"),
    ],
)
def test_validation_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ScoringInputError, match=match):
        ItemParameters(**kwargs)


def test_rasch_alias_and_readonly() -> None:
    p = ItemParameters(model="rasch", a=[1.0], d=[0.0])
    assert p.model == ("1pl",)
    assert p.item_names == ("item1",)
    with pytest.raises(ValueError):
        p.a[0] = 2.0


# --- property tests -------------------------------------------------------

finite = st.floats(-3, 3, allow_nan=False)


@st.composite
def item_params(draw: st.DrawFn) -> ItemParameters:
    model = draw(st.sampled_from(["1pl", "2pl", "3pl", "grm", "gpcm"]))
    a = draw(st.floats(0.2, 3.0))
    if model in ("1pl", "2pl", "3pl"):
        c = draw(st.floats(0.0, 0.4)) if model == "3pl" else 0.0
        return ItemParameters(model=model, a=[a], d=[draw(finite)], c=[c])
    k = draw(st.integers(1, 4))
    ds = draw(st.lists(finite, min_size=k, max_size=k, unique=True))
    if model == "grm":
        ds = sorted(ds, reverse=True)
        if k > 1 and min(np.diff(ds) * -1) < 1e-3:
            ds = [float(x) for x in np.linspace(2, -2, k)]
    return ItemParameters(model=model, a=[a], d=[ds])


@settings(max_examples=150, deadline=None)
@given(item_params(), st.lists(st.floats(-10, 10), min_size=2, max_size=20))
def test_property_probabilities_valid_and_monotone(p: ItemParameters, thetas: list[float]) -> None:
    th = np.sort(np.array(thetas))
    pr = category_probabilities(th, p)
    assert np.all(pr >= 0) and np.all(pr <= 1)
    np.testing.assert_allclose(pr.sum(axis=2), 1.0, atol=1e-10)
    es = expected_score(th, p)[:, 0]
    assert np.all(np.diff(es) >= -1e-12)  # expected score non-decreasing
    assert np.all(np.diff(pr[:, 0, 0]) <= 1e-12)  # lowest category non-increasing
    top = p.n_categories[0] - 1
    assert np.all(np.diff(pr[:, 0, top]) >= -1e-12)  # highest category non-decreasing
    info = item_information(th, p)
    assert np.all(info >= 0) and np.all(np.isfinite(info))


def test_one_model_name_parser_serves_the_whole_package(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: calibrate(), ItemParameters, anchors and parameter CSV files all read names the same way."""
    import numpy as np

    from scoring import calibrate, parse_model_name
    from scoring.csvio import read_params_csv

    assert [parse_model_name(n, where="m") for n in ("Rasch", " 2PL", "GRADED", "gpcm", "3pl")] == \
        ["1pl", "2pl", "grm", "gpcm", "3pl"]
    for bad in ("4pl", "", None, 2):
        with pytest.raises(ScoringInputError, match=r"^m: expected"):
            parse_model_name(bad, where="m")
    assert ItemParameters(model="GRADED", a=[1.0], d=[[0.5, -0.5]]).model == ("grm",)
    rng = np.random.default_rng(3)
    x = (rng.random((300, 4)) < np.array([0.3, 0.5, 0.6, 0.7])).astype(float)
    fit = calibrate(x, model=["2PL", "2pl", " 2pl", "2Pl"], se=False)
    assert fit.params.model == ("2pl",) * 4
    path = tmp_path / "p.csv"
    path.write_text("item,model,a,d1,d2\nq1,2PL,1.0,0.0,\nq2,Graded,1.0,0.5,-0.5\n", encoding="utf-8")
    assert read_params_csv(path).model == ("2pl", "grm")
    path.write_text("item,model,a,d1\nq1,2PL,1.0,0.0\nq2,4pl,1.0,0.5\n", encoding="utf-8")
    with pytest.raises(ScoringInputError, match=r"p\.csv: line 3, column 'model': expected one of"):
        read_params_csv(path)
