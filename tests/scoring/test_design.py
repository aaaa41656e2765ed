"""Design simulation (scoring/design.py): shapes, determinism, clear refusals, recovery at large N (stated tolerances)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import ItemParameters
from scoring.design import DesignError, DesignForm, DesignSpec, school_sizes, simulate_design

ANCHORS = tuple(f"A{k}" for k in range(6))
G5 = tuple(f"F{k}" for k in range(6))
G8 = tuple(f"E{k}" for k in range(6))


def _params(seed: int = 3, b_override: dict[str, float] | None = None) -> ItemParameters:
    ids = ANCHORS + G5 + G8
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.1, 0.25, len(ids))
    b = rng.normal(0.3, 0.9, len(ids))
    for name, value in (b_override or {}).items():
        b[ids.index(name)] = value
    return ItemParameters("2pl", a, -a * b, item_names=ids)


def _spec(n: int = 400, reps: int = 2, seed: int = 1, **kw: object) -> DesignSpec:
    forms = (DesignForm("G5", 5, ANCHORS + G5), DesignForm("G8", 8, ANCHORS + G8))
    args: dict[str, object] = {"forms": forms, "anchors": ANCHORS, "params": _params(),
                               "n_per_grade": {5: n, 8: n}, "schools": {5: 8, 8: 4}, "icc": 0.15,
                               "grade_means": {8: 0.6}, "replications": reps, "seed": seed}
    args.update(kw)
    return DesignSpec(**args)  # type: ignore[arg-type]


def test_report_shapes_and_ranges() -> None:
    calls: list[tuple[int, int]] = []
    report = simulate_design(_spec(reps=3), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert len(report.items) == 2 * 18 and {r.parameter for r in report.items} == {"a", "b"}
    assert [s.parameter for s in report.summary] == ["a", "b"] and all(s.n == 18 for s in report.summary)
    assert [(g.grade, g.statistic) for g in report.groups] == [(8, "mean"), (8, "sd")]
    assert [(g.grade, g.statistic, g.true) for g in report.differences] == [(8, "difference", 0.6)]
    assert sum(report.school_sizes[5]) == 400 and len(report.school_sizes[8]) == 4
    assert {s.grade for s in report.schools} == {5, 8} and all(s.empirical_se > 0 for s in report.schools)
    assert sum(s.n_schools for s in report.schools if s.grade == 5) == 8
    assert all(0.0 <= v <= 1.0 for v in report.pairs_detectable.values())
    assert report.replications == 3 and 0 <= report.converged <= 3
    for row in report.items:
        assert row.rmse >= abs(row.bias) - 1e-12 and row.sd >= 0


def test_same_seed_same_report_other_seed_differs() -> None:
    one, two = simulate_design(_spec(seed=5)), simulate_design(_spec(seed=5))
    assert [(r.item, r.parameter, r.mean, r.rmse) for r in one.items] == \
        [(r.item, r.parameter, r.mean, r.rmse) for r in two.items]
    assert one.schools == two.schools and one.differences == two.differences
    other = simulate_design(_spec(seed=6))
    assert [r.mean for r in one.items] != [r.mean for r in other.items]


def test_large_n_recovers_the_truth() -> None:
    """4,000 students a grade: RMSE of a and b under 0.12 (observed ~0.05-0.06), the grade gap within 0.05."""
    report = simulate_design(_spec(n=4000, reps=3, seed=11))
    summary = {s.parameter: s for s in report.summary}
    assert summary["a"].rmse < 0.12 and summary["b"].rmse < 0.12
    assert summary["b"].correlation > 0.98 and abs(summary["b"].bias) < 0.05
    gap = report.differences[0]
    assert abs(gap.bias) < 0.05 and gap.rmse < 0.08
    assert report.converged == 3


def test_more_students_smaller_errors() -> None:
    """Ten times the students: the RMSE of b and the empirical SE of school means both shrink."""
    small, large = simulate_design(_spec(n=300, reps=3, seed=2)), simulate_design(_spec(n=3000, reps=3, seed=2))
    rmse = {r.parameter: r.rmse for r in small.summary}, {r.parameter: r.rmse for r in large.summary}
    assert rmse[1]["b"] < rmse[0]["b"] and rmse[1]["a"] < rmse[0]["a"]
    assert np.mean([s.empirical_se for s in large.schools]) < np.mean([s.empirical_se for s in small.schools])


def test_mixed_models_report_thresholds_and_asymptotes() -> None:
    base = _params()
    models = ["2pl"] * 18
    models[0], models[7] = "3pl", "gpcm"
    d = np.full((18, 2), np.nan)
    d[:, 0] = base.d[:, 0]
    d[7] = [0.8, -0.6]
    c = np.zeros(18)
    c[0] = 0.15
    params = ItemParameters(tuple(models), base.a, d, c, item_names=base.item_names)
    report = simulate_design(_spec(n=1500, params=params))
    kinds = {(r.item, r.parameter) for r in report.items}
    assert {("A0", "c"), ("F1", "b1"), ("F1", "b2")} <= kinds and ("F1", "b") not in kinds
    assert [s.parameter for s in report.summary] == ["a", "b", "c"]


def test_an_item_nobody_gets_right_is_refused_naming_it() -> None:
    spec = _spec(n=30, params=_params(b_override={"E3": 9.0}))
    with pytest.raises(DesignError, match=r"item 'E3'.*no variance.*n_per_grade"):
        simulate_design(spec)


@pytest.mark.parametrize(("change", "field"), [
    ({"icc": 1.0}, "icc"), ({"icc": -0.1}, "icc"), ({"replications": 1}, "replications"),
    ({"schools": {5: 500, 8: 4}}, r"schools\[5\]"), ({"n_per_grade": {5: 400}}, "n_per_grade"),
    ({"grade_sds": {8: 0.0}}, r"grade_sds\[8\]"), ({"anchors": ANCHORS[:5]}, "anchors: A5"),
    ({"anchors": ANCHORS + ("F0",)}, "anchors: F0"), ({"method": "mle"}, "method"),
    ({"school_size_spread": 1.0}, "school_size_spread"),
    ({"forms": (DesignForm("G5", 5, ANCHORS + G5 + ("X1",)), DesignForm("G8", 8, ANCHORS + G8))}, "X1"),
    ({"forms": (DesignForm("G5", 5, G5), DesignForm("G8", 8, G8 + ANCHORS))}, "anchors: A0"),
])
def test_bad_specs_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(DesignError, match=field):
        _spec(**change)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), schools=st.integers(1, 200), spread=st.floats(0.0, 0.95))
def test_school_sizes_hold_every_student_and_no_empty_school(n: int, schools: int, spread: float) -> None:
    schools = min(schools, n)
    sizes = school_sizes(n, schools, spread)
    assert sizes.shape == (schools,) and int(sizes.sum()) == n and int(sizes.min()) >= 1
    if spread == 0.0:
        assert int(sizes.max() - sizes.min()) <= 1


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31), icc=st.floats(0.0, 0.5), n_forms=st.integers(1, 2))
def test_any_seed_and_icc_give_a_well_formed_report(seed: int, icc: float, n_forms: int) -> None:
    forms = [DesignForm(f"G5{k}", 5, ANCHORS + (G5[k::n_forms])) for k in range(n_forms)]
    forms.append(DesignForm("G8", 8, ANCHORS + G8))
    report = simulate_design(_spec(n=500, seed=seed, icc=icc, forms=tuple(forms)))
    assert all(np.isfinite(r.rmse) for r in report.items)
    assert all(s.reported_se > 0 and np.isfinite(s.detectable_difference) for s in report.schools)
    assert 0.0 <= report.pairs_detectable[5] <= 1.0
