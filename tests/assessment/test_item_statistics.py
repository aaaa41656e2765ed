"""Item statistics and score distributions of a run: hand-checked numbers, suppression, invariants."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.aggregation import Units, score_distribution
from assessment.item_statistics import item_statistics
from assessment.response_matrix import ANSWERED, NOT_PRESENTED, NOT_REACHED, OMITTED

A, OM, R, P = ANSWERED, OMITTED, NOT_REACHED, NOT_PRESENTED


def _units(classes: list[int], schools: list[int], grades: list[int]) -> Units:
    n = len(classes)
    return Units(class_ids=np.array(classes), school_ids=np.array(schools), district_ids=np.ones(n, dtype=np.int64),
                 grades=np.array(grades), genders=np.array([""] * n),
                 class_keys={c: f"c{c}" for c in set(classes)}, school_keys={s: f"s{s}" for s in set(schools)},
                 district_keys={1: "d1"})


def test_percent_of_maximum_counts_presented_students_and_omissions_as_zero() -> None:
    units = _units([1, 1, 1, 2, 2], [1, 1, 1, 1, 1], [5] * 5)
    # item 0 (max 1): c1 answers 1, 0, omitted; c2 answers 1, not presented
    # item 1 (max 2): c1 2, 1, not reached; c2 2, 2
    scores = np.array([[1, 2], [0, 1], [0, 0], [1, 2], [np.nan, 2]], dtype=float)
    status = np.array([[A, A], [A, A], [OM, R], [A, A], [P, A]], dtype=np.int8)
    rows = item_statistics(units, scores, status, ["i0", "i1"], [10, 11], np.array([1, 2]), suppressed_units=(),
                           min_n=1)
    got = {(r["level"], r["unit"], r["item_id"]): r for r in rows}
    assert got[("class", "c1", "i0")]["pct"] == round(100 / 3, 2) and got[("class", "c1", "i0")]["n"] == 3
    assert got[("class", "c1", "i0")]["omitted_pct"] == round(100 / 3, 2)
    assert got[("class", "c2", "i0")]["n"] == 1 and got[("class", "c2", "i0")]["pct"] == 100.0
    assert got[("class", "c1", "i1")]["pct"] == 50.0  # (2 + 1 + 0) / (3 * 2)
    assert got[("school", "s1", "i1")]["pct"] == 70.0  # 7 of 10 points
    assert got[("city", "city", "i0")]["n"] == 4 and got[("city", "city", "i0")]["pct"] == 50.0
    assert got[("class", "c2", "i1")]["school_id"] == 1 and got[("class", "c2", "i1")]["class_id"] == 2
    assert got[("city", "city", "i1")]["item_pk"] == 11


def test_rows_of_suppressed_units_and_rarely_seen_items_store_nothing() -> None:
    units = _units([1, 1, 1, 2, 2], [1, 1, 1, 1, 1], [5] * 5)
    scores = np.ones((5, 2))
    status = np.zeros((5, 2), dtype=np.int8)
    status[:2, 1] = P
    scores[:2, 1] = np.nan
    rows = item_statistics(units, scores, status, ["i0", "i1"], [1, 2], np.array([1, 1]),
                           suppressed_units={("class", "c2", 5)}, min_n=3)
    got = {(r["level"], r["unit"], r["item_id"]): r for r in rows}
    hidden = got[("class", "c2", "i0")]
    assert hidden["suppressed"] and hidden["n"] is None and hidden["pct"] is None and hidden["omitted_pct"] is None
    assert got[("class", "c1", "i1")]["suppressed"]  # one student saw it: under the minimum of 3
    # c1 = school - c2 would give c2's hidden value away: c1 is hidden too, the school stays
    assert got[("class", "c1", "i0")]["suppressed"]
    assert not got[("school", "s1", "i0")]["suppressed"] and got[("school", "s1", "i0")]["pct"] == 100.0


def test_an_item_few_students_of_a_class_saw_hides_its_complement_not_the_class() -> None:
    # booklets: class 2 has 15 students but only 8 saw item i1; class 1's i1 would reveal it by subtraction
    units = _units([1] * 12 + [2] * 15, [1] * 27, [5] * 27)
    scores = np.ones((27, 2))
    status = np.zeros((27, 2), dtype=np.int8)
    status[12 + 8:, 1] = P
    scores[12 + 8:, 1] = np.nan
    rows = item_statistics(units, scores, status, ["i0", "i1"], [1, 2], np.array([1, 1]), suppressed_units=(),
                           min_n=10)
    got = {(r["level"], r["unit"], r["item_id"]): r["suppressed"] for r in rows}
    assert got[("class", "c2", "i1")] and got[("class", "c1", "i1")]
    assert not got[("class", "c1", "i0")] and not got[("class", "c2", "i0")] and not got[("school", "s1", "i1")]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 5), st.integers(0, 10_000))
def test_distribution_percents_sum_to_100_per_grade(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grades = rng.choice([5, 8], n)
    units = _units(list(range(n)), [0] * n, grades.tolist())
    pv = rng.normal(500, 150, (n, m))
    dist = score_distribution(pv, units, [150 + 25 * k for k in range(29)])
    for grade in set(grades.tolist()):
        assert abs(sum(dist["city"][str(grade)]) - 100) < 0.015  # each bin rounded to 3 decimals
        assert len(dist["city"][str(grade)]) == 28
    assert set(dist["district"]["d1"]) == {str(g) for g in set(grades.tolist())}
    hidden = score_distribution(pv, units, [150 + 25 * k for k in range(29)],
                                {("district", "d1", int(g)) for g in grades})
    assert hidden["district"] == {}
