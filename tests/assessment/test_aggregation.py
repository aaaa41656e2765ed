"""Group statistics against hand-computed values, and suppression inside aggregate()."""
from __future__ import annotations

import numpy as np
import pytest

from assessment.aggregation import Units, aggregate, between_school_share


def _units(n_per_class: list[int], school_of_class: list[int], genders: list[str] | None = None) -> Units:
    class_ids = np.repeat(np.arange(1, len(n_per_class) + 1), n_per_class)
    school_ids = np.array([school_of_class[c - 1] for c in class_ids])
    n = class_ids.size
    return Units(class_ids=class_ids, school_ids=school_ids, district_ids=np.ones(n, dtype=np.int64),
                 grades=np.full(n, 5), genders=np.array(genders or ["F", "M"] * (n // 2) + ["F"] * (n % 2)),
                 class_keys={c: f"class-{c}" for c in range(1, len(n_per_class) + 1)},
                 school_keys={s: f"school-{s}" for s in set(school_of_class)}, district_keys={1: "d1"},
                 school_tags={s: (("remote",) if s == 2 else ()) for s in set(school_of_class)})


def test_school_statistics_match_a_hand_computation() -> None:
    rng = np.random.default_rng(1)
    units = _units([12, 14], [1, 2])
    pvs = rng.normal(500, 100, (26, 5))
    dims = np.tile([50.0, 60.0, np.nan, 80.0], (26, 1))
    rows = aggregate(units, pvs, dims, [400, 500, 600], ["e", "b", "p", "a"], min_n=10)
    school1 = next(r for r in rows if r.level == "school" and r.unit == "school-1" and r.subgroup == "all")
    v = pvs[:12]
    m = v.mean(axis=0)
    u = v.var(axis=0, ddof=1) / 12  # SRS sampling variance of each PV's mean
    total = u.mean() + (1 + 1 / 5) * m.var(ddof=1)
    assert school1.n == 12
    assert school1.mean == pytest.approx(m.mean(), abs=1e-4)
    assert school1.se == pytest.approx(np.sqrt(total), abs=1e-4)
    assert school1.sd == pytest.approx(v.std(axis=0, ddof=1).mean(), abs=1e-4)
    pct_b = 100 * ((v >= 400) & (v < 500)).mean(axis=0).mean()
    assert school1.percents["b"][0] == pytest.approx(pct_b, abs=1e-3)
    assert school1.dimensions == {"D1": 50.0, "D2": 60.0, "D3": None, "D4": 80.0}
    city = next(r for r in rows if r.level == "city" and r.subgroup == "all")
    assert city.n == 26 and city.mean == pytest.approx(pvs.mean(axis=0).mean(), abs=1e-4)
    assert city.ci_low < city.mean < city.ci_high


def test_a_class_of_three_and_its_complement_are_suppressed_everywhere() -> None:
    units = _units([3, 12, 15], [1, 1, 1])
    pvs = np.random.default_rng(2).normal(500, 100, (30, 5))
    rows = aggregate(units, pvs, np.full((30, 4), 50.0), [500], ["low", "high"], min_n=10)
    by = {(r.level, r.unit, r.subgroup): r for r in rows}
    assert by[("class", "class-1", "all")].suppression == "small"
    assert by[("class", "class-2", "all")].suppression == "complementary"
    assert not by[("class", "class-3", "all")].suppressed
    for r in rows:
        if r.suppressed:
            assert r.n is None and r.mean is None and r.se is None and r.percents is None and r.dimensions is None
    # gender rows: 15 F, 15 M in the school; shown, and never exactly one hidden in a relation
    assert not by[("school", "school-1", "gender:F")].suppressed


def test_tags_split_the_city_and_small_tag_groups_are_hidden_with_their_complement() -> None:
    units = _units([20, 6], [1, 2])
    pvs = np.random.default_rng(3).normal(500, 100, (26, 5))
    rows = aggregate(units, pvs, np.full((26, 4), 50.0), [500], ["low", "high"], min_n=10)
    by = {(r.level, r.subgroup): r for r in rows if r.level == "city"}
    assert by[("city", "tag:remote")].suppression == "small"
    assert by[("city", "not:remote")].suppressed  # else city - not:remote = the remote school


def test_between_school_share_is_near_the_truth() -> None:
    rng = np.random.default_rng(5)
    schools = np.repeat(np.arange(200), 40)
    y = rng.normal(0, np.sqrt(0.2), 200)[schools] + rng.normal(0, np.sqrt(0.8), schools.size)
    share = between_school_share(np.column_stack([y + rng.normal(0, 0.01, y.size) for _ in range(5)]), schools)
    assert share is not None and share["estimate"] == pytest.approx(0.2, abs=0.05)
