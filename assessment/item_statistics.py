"""Per-item results of a scoring run: percent of the maximum score for each class, school, district and city x grade.

This is what a school or a teacher reteaches from: the items its students
missed against the city. Percent of maximum is classical (no IRT), over the
students the item was presented to; omitted and not-reached answers count as
0 (the scoring rule) and their share is reported beside it. A unit's rows are
suppressed with its aggregate row (`aggregation.py`, complementary
suppression included); an item seen by fewer students than the minimum in a
unit (booklet designs) is suppressed there, and so is the complement that
would reveal it by subtraction (`suppression.py`, per item and grade); a
suppressed row stores no statistic.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from .aggregation import Units
from .response_matrix import NOT_PRESENTED, NOT_REACHED, OMITTED
from .suppression import suppress

__all__ = ["item_statistics"]

LEVELS = ("class", "school", "district", "city")


def item_statistics(
    units: Units,
    scores: NDArray[np.float64],
    status: NDArray[np.int8],
    item_ids: Sequence[str],
    item_pks: Sequence[int],
    item_max: NDArray[np.int64],
    *,
    suppressed_units: Collection[tuple[str, str, int]],
    min_n: int,
) -> list[dict[str, Any]]:
    """Rows for `result_item_stats` (without run_id), one per level x unit x grade x item presented there.

    `scores` (students x items) are the scored values (NaN where not presented),
    `status` the matching missing-data codes; both cover the scored students,
    parallel to `units`. `suppressed_units` holds (level, unit key, grade) of
    suppressed aggregate rows.
    """
    n, J = scores.shape
    if n == 0 or J == 0:
        return []
    presented = (status != NOT_PRESENTED).astype(np.float64)
    got = np.nan_to_num(scores) * presented
    missed = ((status == OMITTED) | (status == NOT_REACHED)).astype(np.float64)
    maxima = np.asarray(item_max, dtype=np.float64)
    school_district = dict(zip(units.school_ids.tolist(), units.district_ids.tolist(), strict=True))
    class_school = dict(zip(units.class_ids.tolist(), units.school_ids.tolist(), strict=True))
    ids = {"class": units.class_ids, "school": units.school_ids, "district": units.district_ids,
           "city": np.zeros(n, dtype=np.int64)}
    keys: dict[str, Any] = {"class": units.class_keys, "school": units.school_keys, "district": units.district_keys,
                            "city": {0: "city"}}
    blocked = set(suppressed_units)
    tables = []
    for level in LEVELS:
        pairs = np.stack([ids[level], units.grades], axis=1)
        groups, inv = np.unique(pairs, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        members = sparse.csr_matrix((np.ones(n), (inv, np.arange(n))), shape=(len(groups), n))
        count = np.asarray(members @ presented)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = 100.0 * np.asarray(members @ got) / (count * maxima[None, :])
            omitted_pct = 100.0 * np.asarray(members @ missed) / count
        tables.append((level, [(keys[level][u], grade, u) for u, grade in groups.tolist()], count, pct, omitted_pct))
    hidden = _hidden_cells(tables, class_school, school_district, keys, blocked, min_n)
    rows: list[dict[str, Any]] = []
    for level, cells, count, pct, omitted_pct in tables:
        for g, (key, grade, unit_id) in enumerate(cells):
            school = class_school.get(unit_id) if level == "class" else unit_id if level == "school" else None
            district = (school_district.get(school) if school is not None
                        else unit_id if level == "district" else None)
            for j in np.flatnonzero(count[g] > 0).tolist():
                small = (level, key, grade, j) in hidden
                rows.append({
                    "level": level, "unit": key, "grade": grade, "item_id": item_ids[j], "item_pk": int(item_pks[j]),
                    "district_id": district, "school_id": school, "class_id": unit_id if level == "class" else None,
                    "suppressed": small,
                    "n": None if small else int(count[g, j]),
                    "pct": None if small else round(float(pct[g, j]), 2),
                    "omitted_pct": None if small else round(float(omitted_pct[g, j]), 2),
                })
    return rows


def _hidden_cells(
    tables: list[Any],
    class_school: dict[int, int],
    school_district: dict[int, int],
    keys: dict[str, Any],
    blocked: set[tuple[str, str, int]],
    min_n: int,
) -> set[tuple[str, str, int, int]]:
    """(level, unit, grade, item) cells to hide: the unit's aggregate row is hidden, or the item's own count is
    small, plus the complements that would reveal either by subtraction (classes add up to their school, schools
    to their district, districts to the city, per item and grade)."""
    parent_of: dict[str, Any] = {
        "class": lambda u: ("school", keys["school"][class_school[u]]),
        "school": lambda u: ("district", keys["district"][school_district[u]]),
        "district": lambda u: ("city", "city"),
    }
    hidden: set[tuple[str, str, int, int]] = set()
    n_items = tables[0][2].shape[1]
    for j in range(n_items):
        sizes: dict[tuple[str, str, int], int] = {}
        children: dict[tuple[str, str, int], list[tuple[str, str, int]]] = {}
        for level, cells, count, _pct, _omit in tables:
            for g, (key, grade, unit_id) in enumerate(cells):
                c = int(count[g, j])
                if c == 0:
                    continue
                cell = (level, key, grade)
                sizes[cell] = 0 if cell in blocked else c  # a unit hidden in the aggregates stays hidden here
                if level in parent_of:
                    parent = (*parent_of[level](unit_id), grade)
                    children.setdefault(parent, []).append(cell)
        relations = [(parent, kids) for parent, kids in children.items() if parent in sizes]
        for found in suppress(sizes, relations, min_n):  # type: ignore[arg-type]
            lv, unit, gr = cast(tuple[str, str, int], found)
            hidden.add((lv, unit, gr, j))
    return hidden
