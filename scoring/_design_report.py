"""The design simulation's report: what it holds, and how the replications' draws become its numbers.

Split from `scoring.design` (which simulates) so each module reads on its own; import from there.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .models import ItemParameters

if TYPE_CHECKING:
    from .design import DesignSpec

F64 = NDArray[np.float64]
Z95 = 1.959963984540054
Z80 = 0.8416212335729143  # one-sided 80% power
MAX_SIZE_BANDS = 4


@dataclass(frozen=True)
class ParameterRecovery:
    """Recovery of one parameter of one item over the replications (on the reference grade's scale)."""

    item: str
    parameter: str  # "a", "b" ("b1", "b2", ... for polytomous items) or "c"
    true: float
    mean: float
    bias: float
    sd: float
    rmse: float


@dataclass(frozen=True)
class RecoverySummary:
    """One kind of parameter over all items: mean bias, RMSE, mean correlation of estimates with the truth."""

    parameter: str
    n: int
    bias: float
    rmse: float
    correlation: float  # NaN when the true values do not vary (or fewer than 3)


@dataclass(frozen=True)
class GroupRecovery:
    """A grade's latent mean or SD, or its mean's difference from the reference grade."""

    grade: int
    statistic: str  # "mean", "sd" or "difference"
    true: float
    mean: float
    bias: float
    empirical_se: float
    reported_se: float
    rmse: float

    @property
    def half_width_95(self) -> float:
        """Half-width of a 95% interval from the empirical SE."""
        return Z95 * self.empirical_se


@dataclass(frozen=True)
class SchoolPrecision:
    """Precision of school mean thetas for a band of school sizes."""

    grade: int
    size_min: int
    size_max: int
    n_schools: int
    mean_size: float
    bias: float
    empirical_se: float  # RMS over the band's schools of the SD over replications of (estimate - truth)
    reported_se: float  # mean reported SE (measurement only)
    half_width_95: float
    detectable_difference: float  # between two schools of this size: 5% two-sided, 80% power


@dataclass(frozen=True, eq=False)
class DesignReport:
    """Result of :func:`simulate_design`."""

    items: tuple[ParameterRecovery, ...]
    summary: tuple[RecoverySummary, ...]
    groups: tuple[GroupRecovery, ...]
    differences: tuple[GroupRecovery, ...]
    schools: tuple[SchoolPrecision, ...]
    pairs_detectable: Mapping[int, float]  # grade -> share of school pairs significantly different (5%)
    replications: int
    converged: int
    n_per_grade: Mapping[int, int]
    school_sizes: Mapping[int, tuple[int, ...]]
    method: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Layout:
    """Who sits what: students' grade, school and presented items (fixed across replications)."""

    grade: NDArray[np.int64]  # (N,)
    school: NDArray[np.int64]  # (N,) index into all schools
    school_grade: NDArray[np.int64]  # (S,)
    presented: NDArray[np.bool_]  # (N, J)
    sizes: dict[int, NDArray[np.int64]]



@dataclass
class _Draws:
    """Per-replication estimates, stacked at the end."""

    a: list[F64] = field(default_factory=list)  # estimate - truth, per replication
    b: list[F64] = field(default_factory=list)
    c: list[F64] = field(default_factory=list)
    a_est: list[F64] = field(default_factory=list)
    b_est: list[F64] = field(default_factory=list)
    c_est: list[F64] = field(default_factory=list)
    means: list[F64] = field(default_factory=list)  # estimate - truth (non-reference grades)
    sds: list[F64] = field(default_factory=list)
    means_est: list[F64] = field(default_factory=list)
    sds_est: list[F64] = field(default_factory=list)
    se_means: list[F64] = field(default_factory=list)
    se_sds: list[F64] = field(default_factory=list)
    school_error: list[F64] = field(default_factory=list)
    school_se: list[F64] = field(default_factory=list)
    pairs: list[F64] = field(default_factory=list)
    converged: int = 0
    warnings: list[str] = field(default_factory=list)



def _stats(err: F64, est: F64) -> tuple[F64, F64, F64, F64]:
    """Mean estimate, bias, SD of the error (ddof 1) and RMSE over replications (axis 0)."""
    return est.mean(axis=0), err.mean(axis=0), err.std(axis=0, ddof=1), np.sqrt((err**2).mean(axis=0))


def _mean_correlation(truth: F64, est: F64) -> float:
    """Correlation of estimates with the truth over items, per replication (rows), averaged (NaN if undefined)."""
    if truth.shape[1] < 3 or np.all(np.ptp(truth, axis=1) == 0):
        return float("nan")
    e_c = est - est.mean(axis=1, keepdims=True)
    t_c = truth - truth.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (e_c * t_c).sum(axis=1) / np.sqrt((e_c**2).sum(axis=1) * (t_c**2).sum(axis=1))
    return float(np.mean(r)) if np.all(np.isfinite(r)) else float("nan")


def _item_recovery(truth: ItemParameters, d: _Draws) -> tuple[tuple[ParameterRecovery, ...],
                                                             tuple[RecoverySummary, ...]]:
    """Per item and parameter, and per kind of parameter (a, b, c) over all items."""
    err_b, est_b = np.stack(d.b), np.stack(d.b_est)
    use_all = np.ones(truth.n_items, dtype=bool)
    parts: list[tuple[str, F64, F64, F64, NDArray[np.bool_]]] = [
        ("a", truth.a, np.stack(d.a), np.stack(d.a_est), use_all)]
    parts += [(f"b{k + 1}", truth.b[:, k], err_b[:, :, k], est_b[:, :, k], np.isfinite(truth.b[:, k]))
              for k in range(truth.b.shape[1])]
    parts.append(("c", truth.c, np.stack(d.c), np.stack(d.c_est), np.array([m == "3pl" for m in truth.model])))
    poly = truth.n_categories > 2
    stats = {name: _stats(err, est) for name, _, err, est, _ in parts}
    rows = [ParameterRecovery(item, "b" if name == "b1" and not poly[j] else name, float(true[j]),
                              *(float(v[j]) for v in stats[name]))
            for j, item in enumerate(truth.item_names) for name, true, _, _, use in parts if use[j]]
    summary = []
    for kind in ("a", "b", "c"):
        chosen = [(err[:, use], est[:, use]) for name, _, err, est, use in parts if name[0] == kind and use.any()]
        if not chosen:
            continue
        err = np.concatenate([e for e, _ in chosen], axis=1)
        est = np.concatenate([e for _, e in chosen], axis=1)
        summary.append(RecoverySummary(kind, int(err.shape[1]), float(err.mean()), float(np.sqrt((err**2).mean())),
                                       _mean_correlation(est - err, est)))
    return tuple(rows), tuple(summary)


def _group_recovery(spec: DesignSpec, m0: float, s0: float, d: _Draws) -> tuple[tuple[GroupRecovery, ...],
                                                                               tuple[GroupRecovery, ...]]:
    """Non-reference grades' latent mean and SD, and each grade's mean difference from the reference grade."""
    groups: list[GroupRecovery] = []
    diffs: list[GroupRecovery] = []
    tables = {"mean": (np.stack(d.means), np.stack(d.means_est), np.stack(d.se_means)),
              "sd": (np.stack(d.sds), np.stack(d.sds_est), np.stack(d.se_sds))}
    for k, g in enumerate(spec.grades[1:]):
        true = {"mean": (spec.grade_means.get(g, 0.0) - m0) / s0, "sd": spec.grade_sds.get(g, 1.0) / s0}
        for stat, (err, est, se) in tables.items():
            mean, bias, sd, rmse = (float(v) for v in _stats(err[:, k], est[:, k]))
            row = GroupRecovery(g, stat, float(true[stat]), mean, bias, sd, float(np.nanmean(se[:, k])), rmse)
            groups.append(row)
            if stat == "mean":  # the reference grade's mean is 0 by definition: the difference is this mean
                diffs.append(GroupRecovery(g, "difference", *list(vars(row).values())[2:]))
    return tuple(groups), tuple(diffs)


def _size_bands(sizes: NDArray[np.int64]) -> list[NDArray[np.bool_]]:
    """Up to MAX_SIZE_BANDS bands of school size (quantiles), each a mask over the schools."""
    edges = np.unique(np.quantile(sizes, np.linspace(0, 1, MAX_SIZE_BANDS + 1), method="lower"))
    if edges.size == 1:
        return [np.ones(sizes.size, dtype=bool)]
    band = np.clip(np.searchsorted(edges, sizes, side="right") - 1, 0, edges.size - 2)
    return [band == k for k in range(edges.size - 1) if np.any(band == k)]


def _school_precision(layout: _Layout, error: F64, se: F64) -> tuple[SchoolPrecision, ...]:
    """Per grade and band of school sizes: bias, empirical and reported SE of school means."""
    n = np.bincount(layout.school).astype(np.int64)
    emp = error.std(axis=0, ddof=1)  # per school, over replications
    rows = []
    for g in sorted(layout.sizes):
        in_grade = layout.school_grade == g
        for band in _size_bands(n[in_grade]):
            idx = np.flatnonzero(in_grade)[band]
            sizes = n[idx]
            emp_se = float(np.sqrt(np.mean(emp[idx] ** 2)))
            rows.append(SchoolPrecision(
                grade=int(g), size_min=int(sizes.min()), size_max=int(sizes.max()), n_schools=int(idx.size),
                mean_size=float(sizes.mean()), bias=float(error[:, idx].mean()), empirical_se=emp_se,
                reported_se=float(se[:, idx].mean()), half_width_95=Z95 * emp_se,
                detectable_difference=(Z95 + Z80) * math.sqrt(2.0) * emp_se))
    return tuple(rows)

