"""Group statistics of a scoring run: class, school, district and city by grade, gender and school attribute.

Means, SDs and percentages at each level come from plausible values on the
reporting scale, combined by Rubin's rules with simple-random-sampling
variance per plausible value (`scoring.group_statistics`), so a standard
error counts both measurement error and which students happened to be in
the group. Dimension profiles are the group's mean percent of the maximum
score. Groups under the minimum size are suppressed with complementary
suppression (`suppression.py`); suppressed rows carry no statistic.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scoring import combine_rubin, group_statistics

from .census_scoring import DIMENSIONS
from .suppression import suppress

__all__ = ["AggregateRow", "Units", "aggregate", "between_school_share", "grade_gap", "score_distribution"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Units:
    """The roster context of the scored students (parallel arrays) and the names of their units."""

    class_ids: NDArray[np.int64]
    school_ids: NDArray[np.int64]
    district_ids: NDArray[np.int64]
    grades: NDArray[np.int64]
    genders: NDArray[np.str_]
    class_keys: Mapping[int, str]
    school_keys: Mapping[int, str]
    district_keys: Mapping[int, str]
    school_tags: Mapping[int, Sequence[str]] = field(default_factory=dict)


@dataclass
class AggregateRow:
    """One published (or suppressed) group."""

    level: str
    unit: str
    grade: int
    subgroup: str
    n: int
    district_id: int | None = None
    school_id: int | None = None
    class_id: int | None = None
    mean: float | None = None
    se: float | None = None
    sd: float | None = None
    sd_se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    percents: dict[str, list[float]] | None = None
    dimensions: dict[str, float | None] | None = None
    suppressed: bool = False
    suppression: str = ""

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.level, self.unit, self.grade, self.subgroup)

    def blank(self, reason: str) -> None:
        """Hide every statistic (n included): a suppressed row stores nothing that could be subtracted."""
        self.suppressed, self.suppression = True, reason
        self.n = None  # type: ignore[assignment]
        self.mean = self.se = self.sd = self.sd_se = self.ci_low = self.ci_high = None
        self.percents = self.dimensions = None


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


def _labels(*parts: NDArray[Any]) -> NDArray[np.str_]:
    out = parts[0].astype(str)
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, "|"), p.astype(str))
    return out


def _stats_rows(
    labels: NDArray[np.str_],
    pv_scale: F64,
    dims: F64,
    cuts: Sequence[float],
    level_codes: Sequence[str],
) -> dict[str, dict[str, Any]]:
    gs = group_statistics(pv_scale, labels, cuts, list(level_codes), sampling="srs")
    lo, hi = gs.mean_rubin.confidence_interval(0.95)
    _, inv = np.unique(labels, return_inverse=True)
    G = len(gs.groups)
    dim_mean = np.full((G, len(DIMENSIONS)), np.nan)
    for k in range(len(DIMENSIONS)):
        ok = ~np.isnan(dims[:, k])
        cnt = np.bincount(inv[ok], minlength=G)
        tot = np.bincount(inv[ok], weights=dims[ok, k], minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            dim_mean[:, k] = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    out: dict[str, dict[str, Any]] = {}
    for g, label in enumerate(gs.groups):
        assert gs.percent is not None and gs.percent_se is not None
        out[str(label)] = {
            "n": int(gs.n[g]),
            "mean": _f(gs.mean[g]), "se": _f(gs.mean_se[g]), "sd": _f(gs.sd[g]), "sd_se": _f(gs.sd_se[g]),
            "ci_low": _f(lo[g]), "ci_high": _f(hi[g]),
            "percents": {code: [_f(gs.percent[g, k]), _f(gs.percent_se[g, k])] for k, code in enumerate(level_codes)},
            "dimensions": {d: _f(dim_mean[g, k]) for k, d in enumerate(DIMENSIONS)},
        }
    return out


def aggregate(
    units: Units,
    pv_scale: F64,
    dims: F64,
    cuts: Sequence[float],
    level_codes: Sequence[str],
    min_n: int,
) -> list[AggregateRow]:
    """Every group's statistics, with small and complementary cells suppressed."""
    grades = units.grades
    genders = np.where(units.genders == "", "unknown", units.genders)
    city = np.full(grades.shape, "city")
    level_ids = {"class": units.class_ids, "school": units.school_ids, "district": units.district_ids, "city": city}
    keys = {"class": units.class_keys, "school": units.school_keys, "district": units.district_keys}
    school_district = dict(zip(units.school_ids.tolist(), units.district_ids.tolist(), strict=True))
    class_school = dict(zip(units.class_ids.tolist(), units.school_ids.tolist(), strict=True))
    rows: dict[tuple[str, str, int, str], AggregateRow] = {}

    def add(level: str, ids: NDArray[Any], subgroup: NDArray[Any] | None, prefix: str, members: NDArray[np.bool_]) -> None:
        if not members.any():
            return
        parts = [grades[members], ids[members]] + ([subgroup[members]] if subgroup is not None else [])
        stats = _stats_rows(_labels(*parts), pv_scale[members], dims[members], cuts, level_codes)
        for label, st in stats.items():
            grade_s, unit_s, *rest = label.split("|")
            sub = f"{prefix}{rest[0]}" if rest else prefix or "all"
            row = AggregateRow(level=level, unit=unit_s if level == "city" else keys[level][int(unit_s)],
                               grade=int(grade_s), subgroup=sub, n=st.pop("n"), **st)
            if level != "city":
                uid = int(unit_s)
                if level == "class":
                    row.class_id, row.school_id = uid, class_school[uid]
                    row.district_id = school_district[row.school_id]
                elif level == "school":
                    row.school_id, row.district_id = uid, school_district[uid]
                else:
                    row.district_id = uid
            rows[row.key] = row

    everyone = np.ones(grades.shape, dtype=bool)
    for level, ids in level_ids.items():
        add(level, ids, None, "", everyone)
        if level != "class":
            add(level, ids, genders, "gender:", everyone)
    tags = sorted({t for ts in units.school_tags.values() for t in ts})
    for tag in tags:
        has = np.array([tag in units.school_tags.get(int(s), ()) for s in units.school_ids], dtype=bool)
        add("city", city, None, f"tag:{tag}", has)
        add("city", city, None, f"not:{tag}", ~has)

    hidden = suppress({k: r.n for k, r in rows.items()}, _relations(rows, tags), min_n)
    for key, reason in hidden.items():
        rows[key].blank(reason)  # type: ignore[index]
    return sorted(rows.values(), key=lambda r: (["city", "district", "school", "class"].index(r.level), r.grade,
                                                r.unit, r.subgroup))


def _relations(rows: Mapping[tuple[str, str, int, str], AggregateRow], tags: Sequence[str]) -> list[tuple[Any, list[Any]]]:
    """Additive relations between rows: parent = sum of children."""
    children: dict[tuple[Any, str], list[tuple[str, str, int, str]]] = {}
    parent_level = {"district": "city", "school": "district", "class": "school"}
    unit_of_parent: dict[str, dict[str, str]] = {"district": {}, "school": {}, "class": {}}
    district_key = {r.district_id: r.unit for r in rows.values() if r.level == "district"}
    school_key = {r.school_id: r.unit for r in rows.values() if r.level == "school"}
    for r in rows.values():
        if r.level == "district":
            unit_of_parent["district"][r.unit] = "city"
        elif r.level == "school":
            unit_of_parent["school"][r.unit] = district_key[r.district_id]
        elif r.level == "class":
            unit_of_parent["class"][r.unit] = school_key[r.school_id]
    for key, r in rows.items():
        level, unit, grade, sub = key
        if level in parent_level:
            parent = (parent_level[level], unit_of_parent[level][unit], grade, sub)
            if parent in rows:
                children.setdefault((parent, "units"), []).append(key)
        if sub.startswith("gender:"):
            children.setdefault(((level, unit, grade, "all"), "gender"), []).append(key)
    relations: list[tuple[Any, list[Any]]] = [(parent, kids) for (parent, _), kids in children.items()]
    for tag in tags:  # the city = schools with the attribute + schools without it
        for grade in sorted({k[2] for k in rows if k[0] == "city"}):
            parts = [k for k in (("city", "city", grade, f"tag:{tag}"), ("city", "city", grade, f"not:{tag}"))
                     if k in rows]
            if parts:
                relations.append((("city", "city", grade, "all"), parts))
    return relations


def grade_gap(rows: Sequence[AggregateRow], low: int = 5, high: int = 8) -> dict[str, float | None] | None:
    """City grade `high` minus grade `low` on the vertical scale, with its SE and 95% interval."""
    city = {r.grade: r for r in rows if r.level == "city" and r.subgroup == "all" and not r.suppressed}
    if low not in city or high not in city or city[low].mean is None or city[high].mean is None:
        return None
    a, b = city[low], city[high]
    diff = float(b.mean) - float(a.mean)  # type: ignore[arg-type]
    se = float(np.hypot(a.se or 0.0, b.se or 0.0))
    return {"estimate": round(diff, 3), "se": round(se, 3), "ci_low": round(diff - 1.96 * se, 3),
            "ci_high": round(diff + 1.96 * se, 3)}


def between_school_share(pv_scale: F64, school_ids: NDArray[np.int64]) -> dict[str, float] | None:
    """Share of score variance between schools (the divide): ANOVA intraclass correlation per PV, Rubin-combined.

    ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW), the variance of true school means
    relative to the total, after removing what chance differences between
    groups of students would produce (n0: the ANOVA average school size).
    """
    _, s = np.unique(school_ids, return_inverse=True)
    S, N = int(s.max()) + 1 if s.size else 0, s.size
    if S < 2 or N - S < 1:
        return None
    n_s = np.bincount(s, minlength=S).astype(np.float64)
    n0 = (N - (n_s**2).sum() / N) / (S - 1)
    est = []
    for m in range(pv_scale.shape[1]):
        y = pv_scale[:, m]
        means = np.bincount(s, weights=y, minlength=S) / n_s
        msb = (n_s * (means - y.mean()) ** 2).sum() / (S - 1)
        msw = ((y - means[s]) ** 2).sum() / (N - S)
        est.append(max((msb - msw) / (msb + (n0 - 1) * msw), 0.0))
    q = np.array(est)
    r = combine_rubin(q, np.zeros_like(q))
    return {"estimate": round(float(r.estimate), 4), "se_imputation": round(float(r.se), 4), "schools": S,
            "students": N}


def score_distribution(
    pv_scale: F64,
    units: Units,
    edges: Sequence[float],
    suppressed_units: Collection[tuple[str, str, int]] = (),
) -> dict[str, Any]:
    """Percent of students per score bin, city and district by grade, from plausible values.

    Plausible values, not point estimates: their spread is the population's,
    where WLE or EAP scores would widen or shrink it. Scores beyond the outer
    edges fall into the end bins; suppressed districts and city grades get no histogram.
    """
    e = np.asarray(edges, dtype=np.float64)
    B = e.size - 1
    idx = np.clip(np.searchsorted(e, pv_scale, side="right") - 1, 0, B - 1)

    def percents(members: NDArray[np.bool_]) -> list[float]:
        counts = np.bincount(idx[members].ravel(), minlength=B)
        return [round(float(x), 3) for x in 100.0 * counts / max(int(counts.sum()), 1)]

    out: dict[str, Any] = {"edges": [float(x) for x in e], "city": {}, "district": {}}
    for grade in np.unique(units.grades).tolist():
        in_grade = units.grades == grade
        if ("city", "city", grade) in suppressed_units:
            continue  # a grade too small to report (e.g. a pilot): its histogram would give its n away
        out["city"][str(grade)] = percents(in_grade)
        for d in np.unique(units.district_ids[in_grade]).tolist():
            key = units.district_keys[d]
            if ("district", key, grade) not in suppressed_units:
                out["district"].setdefault(key, {})[str(grade)] = percents(in_grade & (units.district_ids == d))
    return out
