"""Design simulation: check a census test design (forms, anchors, N, schools) before test day.

:func:`simulate_design` draws ``R`` replications of a census from known
("true") item parameters and populations, calibrates each the way the census
does (concurrent multigroup MML-EM: the lowest grade is the reference group
N(0, 1), the other grades' means and SDs are estimated), scores every student
with the estimated parameters (WLE, the census's reported theta, or EAP with
the student's grade as prior) and reports

* **parameter recovery** per item and parameter (``a``, ``b`` thresholds,
  ``c``): bias, empirical SD and RMSE over the replications, and per kind of
  parameter the mean bias, the RMSE and the correlation of estimates with
  the truth (computed over items within a replication, then averaged);
* **latent distribution recovery** of every non-reference grade (mean, SD);
* **precision of school means**: per band of school sizes the empirical SE
  of a school's mean theta (SD over replications of estimate minus the mean
  of its own students' true thetas: the census target, every student
  tested), the mean reported SE (``sqrt(sum se_i^2) / n``, measurement error
  only; the gap to the empirical SE is the calibration's share), the 95%
  interval half-width ``1.96 * SE`` and the minimum detectable difference
  between two schools of that size (5% two-sided, 80% power:
  ``2.80 * sqrt(2) * SE``); per grade the share of pairs of schools whose
  estimated difference is significant at 5% with the reported SEs;
* **the grade difference** (each grade's latent mean against the reference
  grade's): bias, empirical and reported SE, RMSE and 95% half-width.

Errors are taken against each replication's own truth on the calibration's
scale: the calibration sets the reference grade's latent distribution to
N(0, 1) in the data it sees, so the scale is that of the tested reference
cohort. With its students' true thetas having mean ``m`` and SD ``s``, true
abilities are ``(theta - m) / s`` and true parameters ``a * s`` and
``b`` -> ``(b - m) / s`` (a census tests every student, so the target is
the tested students, not a population they were drawn from; the cohort's
sampling variation is not an error of the design). Reported "true" values
are the design's own, on the reference grade's population scale
(``grade_means``/``grade_sds``); bias, SD and RMSE are of the error against
the replication's truth.

Students are nested in schools: ``theta = m_g + s_g * (sqrt(icc) * u_school
+ sqrt(1 - icc) * e_student)``. School sizes are fixed by the design (spread
linearly between ``1 - school_size_spread`` and ``1 + school_size_spread``
times the mean size); booklets rotate within each school. Each replication
draws from its own generator spawned from ``seed`` (numpy ``SeedSequence``),
so the first replications of a run are the same whatever ``replications`` is.

References
----------
Harwell, M., Stone, C. A., Hsu, T.-C., & Kirisci, L. (1996). Monte Carlo
studies in item response theory. *Applied Psychological Measurement*, 20, 101-125.
Kolen, M. J., & Brennan, R. L. (2014). *Test equating, scaling, and linking* (3rd ed.).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ._design_report import (
    Z95,
    DesignReport,
    GroupRecovery,
    ParameterRecovery,
    RecoverySummary,
    SchoolPrecision,
    _Draws,
    _group_recovery,
    _item_recovery,
    _Layout,
    _school_precision,
)
from .ability import estimate_ability
from .calibration import calibrate
from .errors import ConvergenceWarning, ScoringInputError
from .models import ItemParameters, category_probabilities

__all__ = [
    "DesignError",
    "DesignForm",
    "DesignReport",
    "DesignSpec",
    "GroupRecovery",
    "ParameterRecovery",
    "RecoverySummary",
    "SchoolPrecision",
    "school_sizes",
    "simulate_design",
]

F64 = NDArray[np.float64]
ScoreMethod = Literal["wle", "eap"]


class DesignError(ScoringInputError):
    """A design that cannot be simulated; the message names the field and what to change."""


@dataclass(frozen=True)
class DesignForm:
    """One booklet: its name, the grade that sits it and its items (ids of the true parameters)."""

    name: str
    grade: int
    items: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class DesignSpec:
    """A test design and the truth to simulate it from.

    Parameters
    ----------
    forms : sequence of DesignForm
        Booklets; a grade's students rotate through its booklets within each school.
    anchors : sequence of str
        Items on forms of more than one grade (the vertical link); must be exactly those items.
    params : ItemParameters
        True parameters; ``item_names`` are the item ids the forms use.
    n_per_grade : mapping grade -> int
        Students per grade (every student is tested: a census).
    schools : mapping grade -> int
        Schools per grade.
    icc : float
        Intraclass correlation of theta within schools, in ``[0, 1)``.
    grade_means, grade_sds : mapping grade -> float
        True latent mean and SD per grade (the reference grade's are the scale's origin and unit).
    replications : int
    seed : int
    school_size_spread : float
        School sizes run linearly from ``(1 - spread)`` to ``(1 + spread)`` times the mean size, in ``[0, 1)``.
    method : {"wle", "eap"}
        How students are scored.
    """

    forms: tuple[DesignForm, ...]
    anchors: tuple[str, ...]
    params: ItemParameters
    n_per_grade: Mapping[int, int]
    schools: Mapping[int, int]
    icc: float = 0.15
    grade_means: Mapping[int, float] = field(default_factory=dict)
    grade_sds: Mapping[int, float] = field(default_factory=dict)
    replications: int = 20
    seed: int = 1
    school_size_spread: float = 0.5
    method: ScoreMethod = "wle"

    def __post_init__(self) -> None:
        object.__setattr__(self, "forms", tuple(self.forms))
        object.__setattr__(self, "anchors", tuple(str(a) for a in self.anchors))
        _check_spec(self)

    @property
    def grades(self) -> tuple[int, ...]:
        """The grades sitting the design, lowest (the reference group) first."""
        return tuple(sorted({f.grade for f in self.forms}))

    @property
    def n_students(self) -> int:
        return int(sum(self.n_per_grade[g] for g in self.grades))


def _positive_int(value: object, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise DesignError(f"{where}: expected a whole number >= {minimum}; found {value!r}")
    return int(value)


def _finite(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise DesignError(f"{where}: expected a finite number; found {value!r}")
    return float(value)


def _check_spec(spec: DesignSpec) -> None:
    """Every check that needs no simulation; errors name the field."""
    if not isinstance(spec.params, ItemParameters):
        raise DesignError(f"params: expected ItemParameters; found {type(spec.params).__name__}")
    if not spec.forms:
        raise DesignError("forms: expected at least one form")
    ids = spec.params.item_names
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise DesignError(f"params: item ids must be unique; repeated: {', '.join(dup)}")
    known = set(ids)
    names: set[str] = set()
    for k, form in enumerate(spec.forms):
        where = f"forms[{k}] ({form.name!r})"
        if form.name in names:
            raise DesignError(f"{where}: form names must be unique")
        names.add(form.name)
        _positive_int(form.grade, f"{where}.grade")
        if not form.items:
            raise DesignError(f"{where}.items: expected at least one item")
        if len(set(form.items)) != len(form.items):
            raise DesignError(f"{where}.items: an item appears twice on the form")
        unknown = [i for i in form.items if i not in known]
        if unknown:
            raise DesignError(f"{where}.items: no true parameters for {', '.join(unknown)}")
    unused = sorted(known - {i for f in spec.forms for i in f.items})
    if unused:
        raise DesignError(f"params: items on no form: {', '.join(unused)}; remove them or put them on a form")
    grades_of: dict[str, set[int]] = {}
    for form in spec.forms:
        for i in form.items:
            grades_of.setdefault(i, set()).add(form.grade)
    shared = {i for i, gs in grades_of.items() if len(gs) > 1}
    listed = set(spec.anchors)
    if listed - shared:
        raise DesignError(f"anchors: {', '.join(sorted(listed - shared))} must be on forms of at least two grades")
    if shared - listed:
        raise DesignError(f"anchors: {', '.join(sorted(shared - listed))} are on forms of several grades but not "
                          f"listed as anchors; list them (or take them off a grade's forms)")
    grades = spec.grades
    if len(grades) > 1 and not shared:
        raise DesignError("anchors: grades share no item, so their scales cannot be linked; put anchor items on "
                          "forms of every grade")
    for label, mapping in (("n_per_grade", spec.n_per_grade), ("schools", spec.schools)):
        missing = [g for g in grades if g not in mapping]
        if missing:
            raise DesignError(f"{label}: expected a value for grade {', '.join(map(str, missing))}")
    for g in grades:
        n = _positive_int(spec.n_per_grade[g], f"n_per_grade[{g}]", 2)
        s = _positive_int(spec.schools[g], f"schools[{g}]")
        if s > n:
            raise DesignError(f"schools[{g}]: {s} schools cannot share {n} students; expected at most {n}")
        _finite(spec.grade_means.get(g, 0.0), f"grade_means[{g}]")
        if not _finite(spec.grade_sds.get(g, 1.0), f"grade_sds[{g}]") > 0:
            raise DesignError(f"grade_sds[{g}]: expected a positive SD; found {spec.grade_sds[g]!r}")
    if not 0.0 <= _finite(spec.icc, "icc") < 1.0:
        raise DesignError(f"icc: expected a value in [0, 1); found {spec.icc!r}")
    if not 0.0 <= _finite(spec.school_size_spread, "school_size_spread") < 1.0:
        raise DesignError(f"school_size_spread: expected a value in [0, 1); found {spec.school_size_spread!r}")
    _positive_int(spec.replications, "replications", 2)
    _positive_int(spec.seed, "seed", 0)
    if spec.method not in ("wle", "eap"):
        raise DesignError(f"method: expected 'wle' or 'eap'; found {spec.method!r}")
    if np.any(spec.params.a <= 0):
        j = int(np.argmax(spec.params.a <= 0))
        raise DesignError(f"params: item {ids[j]!r}: expected a positive slope a; found {spec.params.a[j]:g}")


def school_sizes(n: int, schools: int, spread: float) -> NDArray[np.int64]:
    """Sizes of `schools` schools holding `n` students: linear from (1 - spread) to (1 + spread) x n / schools.

    Largest-remainder rounding keeps the total at ``n`` and every school at one student or more.
    """
    raw = np.linspace(1.0 - spread, 1.0 + spread, schools) * (n / schools)
    sizes = np.maximum(np.floor(raw).astype(np.int64), 1)
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    k = 0
    while (diff := n - int(sizes.sum())) != 0:
        j = order[k % schools] if diff > 0 else int(np.argmax(sizes))
        sizes[j] += 1 if diff > 0 else -1
        k += 1
    return sizes


def _layout(spec: DesignSpec) -> _Layout:
    ids = {name: j for j, name in enumerate(spec.params.item_names)}
    grade_parts: list[NDArray[np.int64]] = []
    school_parts: list[NDArray[np.int64]] = []
    presented_parts: list[NDArray[np.bool_]] = []
    school_grade: list[int] = []
    sizes: dict[int, NDArray[np.int64]] = {}
    for g in spec.grades:
        forms = [f for f in spec.forms if f.grade == g]
        masks = np.zeros((len(forms), spec.params.n_items), dtype=bool)
        for k, f in enumerate(forms):
            masks[k, [ids[i] for i in f.items]] = True
        sz = school_sizes(spec.n_per_grade[g], spec.schools[g], spec.school_size_spread)
        sizes[g] = sz
        first = len(school_grade)
        school = np.repeat(np.arange(first, first + sz.size), sz)
        within = np.arange(school.size) - np.repeat(np.cumsum(sz) - sz, sz)  # position inside the school
        grade_parts.append(np.full(school.size, g))
        school_parts.append(school)
        presented_parts.append(masks[within % len(forms)])  # booklets rotate within each school
        school_grade.extend([g] * sz.size)
    return _Layout(np.concatenate(grade_parts), np.concatenate(school_parts), np.array(school_grade),
                   np.concatenate(presented_parts), sizes)


def _on_scale(params: ItemParameters, m: float, s: float) -> ItemParameters:
    """`params` for abilities ``(theta - m) / s``: slopes ``a * s``, intercepts ``d + a * m``."""
    return ItemParameters(params.model, params.a * s, params.d + (params.a * m)[:, None], params.c,
                          params.item_names)


def _reference_scale(spec: DesignSpec) -> tuple[float, float]:
    """The reference grade's population mean and SD (the scale the design's true values are shown on)."""
    g0 = spec.grades[0]
    return float(spec.grade_means.get(g0, 0.0)), float(spec.grade_sds.get(g0, 1.0))


def _draw(theta: F64, params: ItemParameters, presented: NDArray[np.bool_], rng: np.random.Generator) -> F64:
    """Item scores (N, J) from the model; NaN where the item is not on the student's booklet."""
    cum = np.cumsum(np.nan_to_num(category_probabilities(theta, params)), axis=2)
    u = rng.random(presented.shape)
    scores = (u[:, :, None] > cum).sum(axis=2)
    scores = np.minimum(scores, params.n_categories[None, :] - 1).astype(np.float64)
    return np.where(presented, scores, np.nan)


def _check_variance(x: F64, params: ItemParameters, replication: int) -> None:
    """Every category of every item must be drawn: otherwise the item cannot be calibrated."""
    for k in range(params.max_categories):
        count = (x == k).sum(axis=0)
        empty = (count == 0) & (k < params.n_categories)
        if empty.any():
            j = int(np.argmax(empty))
            seen = int((~np.isnan(x[:, j])).sum())
            raise DesignError(
                f"replication {replication}: item {params.item_names[j]!r}: no student of the {seen} who see it "
                f"scored {k}, so it cannot be calibrated (no variance); give more students per grade "
                f"(n_per_grade) or check its true parameters (b = {params.b[j, 0]:.2f}, a = {params.a[j]:.2f})")


def _replicate(spec: DesignSpec, layout: _Layout, rng: np.random.Generator, r: int, out: _Draws) -> None:
    """One census: draw, calibrate as the census does, score, and keep the errors against this census's truth."""
    grades = spec.grades
    n_schools = layout.school_grade.size
    mean = np.array([spec.grade_means.get(g, 0.0) for g in grades])
    sd = np.array([spec.grade_sds.get(g, 1.0) for g in grades])
    gi = np.searchsorted(np.array(grades), layout.grade)
    u = rng.standard_normal(n_schools)[layout.school]
    e = rng.standard_normal(layout.grade.size)
    theta = mean[gi] + sd[gi] * (math.sqrt(spec.icc) * u + math.sqrt(1.0 - spec.icc) * e)
    x = _draw(theta, spec.params, layout.presented, rng)
    _check_variance(x, spec.params, r + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            cal = calibrate(x, spec.params.model, groups=layout.grade if len(grades) > 1 else None,
                            item_names=spec.params.item_names, se="xpd")
        except ScoringInputError as exc:
            raise DesignError(f"replication {r + 1}: the simulated data cannot be calibrated: {exc}") from None
    out.converged += int(cal.converged)
    out.warnings.extend(f"replication {r + 1}: {w.message}" for w in caught
                        if issubclass(w.category, ConvergenceWarning))

    ref = theta[gi == 0]  # the tested reference cohort sets the scale
    m, s = float(ref.mean()), float(ref.std())
    true_theta = (theta - m) / s
    truth = _on_scale(spec.params, m, s)
    out.a.append(cal.a - truth.a)
    out.b.append(cal.params.b - truth.b)
    out.c.append(cal.c - truth.c)
    out.a_est.append(cal.a)
    out.b_est.append(cal.params.b)
    out.c_est.append(cal.c)
    g_mean = np.bincount(gi, true_theta) / np.bincount(gi)
    g_sd = np.sqrt(np.bincount(gi, true_theta**2) / np.bincount(gi) - g_mean**2)
    out.means.append(cal.group_means[1:] - g_mean[1:])
    out.sds.append(cal.group_sds[1:] - g_sd[1:])
    out.means_est.append(cal.group_means[1:])
    out.sds_est.append(cal.group_sds[1:])
    out.se_means.append(cal.se_group_means[1:])
    out.se_sds.append(cal.se_group_sds[1:])

    if spec.method == "eap":
        est = estimate_ability(x, cal.params, "eap", prior_mean=cal.group_means[gi], prior_sd=cal.group_sds[gi])
    else:
        est = estimate_ability(x, cal.params, "wle")
    n = np.bincount(layout.school, minlength=n_schools).astype(np.float64)
    school_truth = np.bincount(layout.school, true_theta, n_schools) / n
    school_mean = np.bincount(layout.school, est.theta, n_schools) / n
    school_se = np.sqrt(np.bincount(layout.school, est.se**2, n_schools)) / n
    out.school_error.append(school_mean - school_truth)
    out.school_se.append(school_se)
    out.pairs.append(np.array([_share_significant(school_mean[layout.school_grade == g],
                                                  school_se[layout.school_grade == g]) for g in grades]))


def _share_significant(means: F64, ses: F64) -> float:
    """Share of pairs of schools whose difference is significant at 5% (two-sided) with the given SEs."""
    if means.size < 2:
        return float("nan")
    iu = np.triu_indices(means.size, 1)
    diff = np.abs(means[:, None] - means[None, :])[iu]
    se = np.sqrt(ses[:, None] ** 2 + ses[None, :] ** 2)[iu]
    return float(np.mean(diff > Z95 * se))


def simulate_design(spec: DesignSpec, progress: Callable[[int, int], None] | None = None) -> DesignReport:
    """Simulate, calibrate and score ``spec.replications`` censuses of the design; report recovery and precision.

    Parameters
    ----------
    spec : DesignSpec
    progress : callable, optional
        Called after each replication as ``progress(done, total)``.

    Returns
    -------
    DesignReport

    Raises
    ------
    DesignError
        A replication drew an item nobody (or everybody) got right, or its data cannot be
        calibrated; the message names the replication and the item.
    """
    layout = _layout(spec)
    m0, s0 = _reference_scale(spec)
    seeds = np.random.SeedSequence(spec.seed).spawn(spec.replications)
    draws = _Draws()
    for r, seq in enumerate(seeds):
        _replicate(spec, layout, np.random.default_rng(seq), r, draws)
        if progress is not None:
            progress(r + 1, spec.replications)
    items, summary = _item_recovery(_on_scale(spec.params, m0, s0), draws)
    groups, differences = _group_recovery(spec, m0, s0, draws)
    schools = _school_precision(layout, np.stack(draws.school_error), np.stack(draws.school_se))
    with warnings.catch_warnings():  # a grade with one school has no pairs (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        pairs = np.nanmean(np.stack(draws.pairs), axis=0)
    return DesignReport(
        items=items, summary=summary, groups=groups, differences=differences, schools=schools,
        pairs_detectable={g: float(pairs[k]) for k, g in enumerate(spec.grades)},
        replications=spec.replications, converged=draws.converged,
        n_per_grade={g: int(spec.n_per_grade[g]) for g in spec.grades},
        school_sizes={g: tuple(int(s) for s in layout.sizes[g]) for g in spec.grades},
        method=spec.method, warnings=tuple(dict.fromkeys(draws.warnings)),
    )


