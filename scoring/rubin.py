"""Group statistics from plausible values, combined by Rubin's rules.

Per PV, the sampling variance of a mean, SD or percentage is taken under
simple random sampling of persons (``s^2 / n``; ``(m4 - s^4) / (4 n s^2)``
for the SD; ``p (1 - p) / n``) or, with ``sampling="none"``, set to zero:
in a census the reported population is observed in full and only the
measurement (imputation) variance remains. Clustered samples need replicate
(jackknife/BRR) weights, which are not implemented yet. The M per-PV
estimates are then combined by Rubin's rules (:func:`combine_rubin`).

Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ScoringInputError
from .scale import proficiency_levels

__all__ = ["GroupStatistics", "RubinCombination", "combine_rubin", "group_statistics"]

def _group_codes(groups: ArrayLike | None, n: int) -> tuple[tuple[Any, ...], NDArray[np.int64]]:
    if groups is None:
        return ("all",), np.zeros(n, dtype=np.int64)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ScoringInputError(f"groups: expected shape ({n},) (one label per person); found {g.shape}")
    try:
        labels, inv = np.unique(g, return_inverse=True)
    except TypeError as exc:
        raise ScoringInputError(f"groups: labels must be mutually comparable (all str or all numbers); {exc}") from exc
    return tuple(labels.tolist()), inv.astype(np.int64).reshape(n)


# --------------------------------------------------------------------------
# Rubin's rules


@dataclass(frozen=True)
class RubinCombination:
    """Estimates combined over M imputations (plausible values).

    All attributes have the shape of one imputation's estimate.

    Attributes
    ----------
    estimate : ndarray
        Mean of the M estimates, ``Q_bar``.
    within_variance : ndarray
        Mean of the M sampling variances, ``U_bar``.
    between_variance : ndarray
        Variance of the M estimates (``ddof=1``), ``B``.
    total_variance : ndarray
        ``T = U_bar + (1 + 1/M) B``.
    se : ndarray
        ``sqrt(T)``.
    df : ndarray
        Rubin's (1987) degrees of freedom
        ``(M - 1) (1 + U_bar / ((1 + 1/M) B))^2`` (inf when ``B = 0``).
    fraction_missing : ndarray
        ``(1 + 1/M) B / T``, the share of the variance due to imputation
        (NaN when ``T = 0``).
    n_imputations : int
    """

    estimate: NDArray[np.float64]
    within_variance: NDArray[np.float64]
    between_variance: NDArray[np.float64]
    total_variance: NDArray[np.float64]
    se: NDArray[np.float64]
    df: NDArray[np.float64]
    fraction_missing: NDArray[np.float64]
    n_imputations: int

    def confidence_interval(self, level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Lower and upper limits ``estimate ± t_{df} se``."""
        from scipy import stats

        if not 0 < level < 1:
            raise ScoringInputError(f"level: expected a confidence level in (0, 1); found {level}")
        q = stats.t.ppf(0.5 + level / 2, self.df)
        q = np.where(np.isinf(self.df), stats.norm.ppf(0.5 + level / 2), q)
        return self.estimate - q * self.se, self.estimate + q * self.se


def combine_rubin(estimates: ArrayLike, variances: ArrayLike) -> RubinCombination:
    """Combine per-imputation estimates and sampling variances (Rubin, 1987).

    Parameters
    ----------
    estimates : array_like, shape (M, ...)
        The statistic computed from each of M plausible values.
    variances : array_like, shape (M, ...)
        Its sampling variance (squared SE) for each plausible value.

    Returns
    -------
    RubinCombination
        Arrays of shape ``(...)``.
    """
    q = np.asarray(estimates, dtype=np.float64)
    u = np.asarray(variances, dtype=np.float64)
    if q.ndim == 0 or q.shape[0] < 2:
        raise ScoringInputError(
            f"estimates: expected shape (M, ...) with M >= 2 imputations; found shape {q.shape}"
        )
    if u.shape != q.shape:
        raise ScoringInputError(f"variances: expected shape {q.shape} like estimates; found {u.shape}")
    if np.any(u < 0):
        raise ScoringInputError("variances: expected non-negative sampling variances; found a negative value")
    m = q.shape[0]
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # lambda = (1 + 1/m) B / T in [0, 1]; df = (m - 1)(1 + 1/r)^2 = (m - 1) / lambda^2,
        # written in lambda so that tiny B or tiny U cannot overflow an intermediate.
        lam = np.where(t > 0, (1.0 + 1.0 / m) * b / np.where(t > 0, t, 1.0), 0.0)
        df = np.where(lam > 0, (m - 1) / np.where(lam > 0, lam, 1.0) ** 2, np.inf)
        fmi = np.where(t > 0, lam, np.nan)
    return RubinCombination(
        estimate=qbar,
        within_variance=ubar,
        between_variance=b,
        total_variance=t,
        se=np.sqrt(t),
        df=np.asarray(df, dtype=np.float64),
        fraction_missing=np.asarray(fmi, dtype=np.float64),
        n_imputations=m,
    )


@dataclass(frozen=True)
class GroupStatistics:
    """Group means, SDs and level percentages from plausible values.

    Every statistic is computed per plausible value and combined by Rubin's
    rules; ``*_se`` include sampling (per ``sampling``) and imputation
    variance.

    Attributes
    ----------
    groups : tuple, length G
    n : ndarray of int, shape (G,)
    mean, mean_se : ndarray, shape (G,)
    sd, sd_se : ndarray, shape (G,)
    percent, percent_se : ndarray, shape (G, L)
        Percentage of persons at each level (0–100); only with cuts.
    level_labels : tuple of str, length L
    mean_rubin, sd_rubin : RubinCombination
        Full combinations (df, fraction of missing information, CIs).
    percent_rubin : RubinCombination or None
    sampling : str
        ``"srs"`` or ``"none"``.
    suppressed : ndarray of bool, shape (G,)
        Groups with fewer than ``min_n`` persons; their statistics are NaN
        (the reporting layer pools them upward).
    """

    groups: tuple[Any, ...]
    n: NDArray[np.int64]
    mean: NDArray[np.float64]
    mean_se: NDArray[np.float64]
    sd: NDArray[np.float64]
    sd_se: NDArray[np.float64]
    percent: NDArray[np.float64] | None
    percent_se: NDArray[np.float64] | None
    level_labels: tuple[str, ...]
    mean_rubin: RubinCombination
    sd_rubin: RubinCombination
    percent_rubin: RubinCombination | None
    sampling: str
    suppressed: NDArray[np.bool_]


def group_statistics(
    pvs: ArrayLike,
    groups: ArrayLike | None = None,
    cuts: Sequence[float] | ArrayLike | None = None,
    labels: Sequence[str] | None = None,
    *,
    sampling: Literal["srs", "none"] = "srs",
    min_n: int = 0,
) -> GroupStatistics:
    """Mean, SD and percent per level of each group, from plausible values.

    Parameters
    ----------
    pvs : array_like, shape (n_persons, M)
        Plausible values (theta or scale scores; the cuts must be on the
        same scale), M >= 2. NaN rows (persons without PVs) are left out.
    groups : array_like, shape (n_persons,), optional
        Reporting group of every person (school, district, ...); one group
        ``"all"`` when omitted.
    cuts, labels : optional
        Cut scores and level labels (see :func:`scoring.scale.proficiency_levels`).
    sampling : {"srs", "none"}, default "srs"
        Sampling-variance model; see the module docstring.
    min_n : int, default 0
        Minimum reporting cell: groups with fewer persons are flagged in
        ``suppressed`` and all their statistics are NaN (e.g. 10, from the
        reporting configuration).

    Returns
    -------
    GroupStatistics
    """
    v = np.asarray(pvs, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 2:
        raise ScoringInputError(f"pvs: expected shape (n_persons, M) with M >= 2 plausible values; found {v.shape}")
    if sampling not in ("srs", "none"):
        raise ScoringInputError(f"sampling: expected 'srs' or 'none'; found {sampling!r}")
    n_all, M = v.shape
    glabels, gidx = _group_codes(groups, n_all)
    keep = ~np.isnan(v).any(axis=1)
    v, gidx = v[keep], gidx[keep]
    G = len(glabels)
    n = np.bincount(gidx, minlength=G).astype(np.float64)
    if not isinstance(min_n, (int, np.integer)) or min_n < 0:
        raise ScoringInputError(f"min_n: expected a non-negative integer (minimum reporting cell); found {min_n!r}")
    suppressed = n < min_n

    # per-PV moments via bincount over groups: shape (M, G)
    def gsum(w: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.stack([np.bincount(gidx, weights=w[:, m], minlength=G) for m in range(M)])

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = gsum(v) / n
        dev = v - mean.T[gidx]
        m2 = gsum(dev**2) / n
        m4 = gsum(dev**4) / n
        var = m2 * n / (n - 1.0)
        sd = np.sqrt(var)
        if sampling == "srs":
            var_mean = var / n
            var_sd = np.maximum(m4 - m2**2, 0.0) / (4.0 * n * m2)
        else:
            var_mean = np.zeros_like(mean)
            var_sd = np.zeros_like(sd)
    mean_r = combine_rubin(mean, np.nan_to_num(var_mean, nan=0.0))
    sd_r = combine_rubin(sd, np.nan_to_num(var_sd, nan=0.0))

    pct = pct_se = None
    pct_r = None
    lvl_labels: tuple[str, ...] = ()
    if cuts is not None:
        lv = proficiency_levels(v, cuts, labels)
        lvl_labels = lv.level_labels
        L = len(lvl_labels)
        # counts (M, G, L) from one bincount over (pv, group, level)
        code = (np.arange(M)[None, :] * G + gidx[:, None]) * L + lv.index
        counts = np.bincount(code.reshape(-1), minlength=M * G * L).reshape(M, G, L)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = counts / n[None, :, None]
            pv_var = p * (1 - p) / n[None, :, None] if sampling == "srs" else np.zeros_like(p)
        pct_r = combine_rubin(100.0 * p, np.nan_to_num(1e4 * pv_var, nan=0.0))
        pct, pct_se = pct_r.estimate, pct_r.se
    elif labels is not None:
        raise ScoringInputError("labels: level labels were given without cuts")

    if suppressed.any():
        mean_r, sd_r = _suppress(mean_r, suppressed), _suppress(sd_r, suppressed)
        if pct_r is not None:
            pct_r = _suppress(pct_r, suppressed)
            pct, pct_se = pct_r.estimate, pct_r.se
    return GroupStatistics(
        groups=glabels,
        n=n.astype(np.int64),
        mean=mean_r.estimate,
        mean_se=mean_r.se,
        sd=sd_r.estimate,
        sd_se=sd_r.se,
        percent=pct,
        percent_se=pct_se,
        level_labels=lvl_labels,
        mean_rubin=mean_r,
        sd_rubin=sd_r,
        percent_rubin=pct_r,
        sampling=sampling,
        suppressed=suppressed,
    )


def _suppress(r: RubinCombination, rows: NDArray[np.bool_]) -> RubinCombination:
    """Copy of ``r`` with the groups in ``rows`` (first axis) set to NaN."""

    def blank(a: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.array(a, dtype=np.float64, copy=True)
        out[rows] = np.nan
        return out

    return RubinCombination(
        estimate=blank(r.estimate),
        within_variance=blank(r.within_variance),
        between_variance=blank(r.between_variance),
        total_variance=blank(r.total_variance),
        se=blank(r.se),
        df=blank(r.df),
        fraction_missing=blank(r.fraction_missing),
        n_imputations=r.n_imputations,
    )
