"""Reporting scale: linear scale scores and proficiency levels.

The reporting scale is configuration, not code: a :class:`ReportingScale`
holds the linear transformation (base-year grade 5 = 500 / 100 by default)
and the cut scores and level labels (e.g. 萌芽 / 基礎 / 精熟 / 進階), and can
be built from a plain mapping read from a YAML/JSON file
(:meth:`ReportingScale.from_mapping`).

Level convention: a score *equal to* a cut score belongs to the higher level
(``score >= cut_k`` reaches level ``k``), as in NAEP and PISA reporting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ScoringInputError

__all__ = [
    "ProficiencyLevels",
    "ReportingScale",
    "proficiency_levels",
    "scale_scores",
    "scale_standard_errors",
    "theta_from_scale",
]


def _check_linear(mean: float, sd: float, base_mean: float, base_sd: float) -> None:
    for name, v in (("mean", mean), ("sd", sd), ("base_mean", base_mean), ("base_sd", base_sd)):
        if not np.isfinite(v):
            raise ScoringInputError(f"{name}: expected a finite number; found {v!r}")
    if not sd > 0:
        raise ScoringInputError(f"sd: expected a positive scale SD (e.g. 100); found {sd!r}")
    if not base_sd > 0:
        raise ScoringInputError(f"base_sd: expected the positive theta SD of the base population; found {base_sd!r}")


def scale_scores(
    theta: ArrayLike,
    mean: float = 500.0,
    sd: float = 100.0,
    base_mean: float = 0.0,
    base_sd: float = 1.0,
) -> NDArray[np.float64]:
    """Linear scale scores ``mean + sd * (theta - base_mean) / base_sd``.

    Parameters
    ----------
    theta : array_like, any shape
        Abilities (or plausible values) on the calibration (logit) scale; NaN
        stays NaN.
    mean, sd : float
        Scale mean and SD assigned to the base population (500 and 100).
    base_mean, base_sd : float
        Mean and SD of the base population (base-year grade 5) on the theta
        scale; 0 and 1 when that population fixed the calibration metric.

    Returns
    -------
    ndarray, same shape as ``theta``
    """
    _check_linear(mean, sd, base_mean, base_sd)
    t = np.asarray(theta, dtype=np.float64)
    return mean + sd * (t - base_mean) / base_sd


def theta_from_scale(
    scores: ArrayLike,
    mean: float = 500.0,
    sd: float = 100.0,
    base_mean: float = 0.0,
    base_sd: float = 1.0,
) -> NDArray[np.float64]:
    """Inverse of :func:`scale_scores` (e.g. to place cut scores on theta)."""
    _check_linear(mean, sd, base_mean, base_sd)
    s = np.asarray(scores, dtype=np.float64)
    return base_mean + base_sd * (s - mean) / sd


def scale_standard_errors(se: ArrayLike, sd: float = 100.0, base_sd: float = 1.0) -> NDArray[np.float64]:
    """Standard errors on the reporting scale: ``se * sd / base_sd``."""
    _check_linear(0.0, sd, 0.0, base_sd)
    return np.asarray(se, dtype=np.float64) * (sd / base_sd)


@dataclass(frozen=True)
class ProficiencyLevels:
    """Proficiency level of every score.

    Attributes
    ----------
    index : ndarray of int, same shape as the scores
        Level 0..L-1 (0 = below the first cut); -1 for a missing (NaN) score.
    labels : ndarray of str, same shape as the scores
        The level label of every score; ``""`` for a missing score.
    level_labels : tuple of str, length L
        All labels, lowest first.
    cuts : tuple of float, length L-1
        The cut scores used, ascending.
    counts : ndarray of int, shape (L,)
        Number of (non-missing) scores at each level.
    """

    index: NDArray[np.int64]
    labels: NDArray[np.str_]
    level_labels: tuple[str, ...]
    cuts: tuple[float, ...]
    counts: NDArray[np.int64]


def _check_cuts(cuts: Sequence[float] | ArrayLike, labels: Sequence[str] | None) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    c = np.asarray(cuts, dtype=np.float64).reshape(-1)
    if c.size == 0 or not np.all(np.isfinite(c)):
        raise ScoringInputError(f"cuts: expected one or more finite cut scores; found {np.asarray(cuts).tolist()!r}")
    if np.any(np.diff(c) <= 0):
        raise ScoringInputError(f"cuts: expected strictly increasing cut scores; found {c.tolist()!r}")
    if labels is None:
        lab = tuple(f"level{k}" for k in range(c.size + 1))
    else:
        lab = tuple(str(v) for v in labels)
        if len(lab) != c.size + 1:
            raise ScoringInputError(
                f"labels: expected {c.size + 1} level labels for {c.size} cut scores; found {len(lab)}"
            )
    return c, lab


def proficiency_levels(
    scores: ArrayLike,
    cuts: Sequence[float] | ArrayLike,
    labels: Sequence[str] | None = None,
) -> ProficiencyLevels:
    """Assign proficiency levels from cut scores.

    Parameters
    ----------
    scores : array_like, any shape
        Scale scores (or thetas, if the cuts are on theta); NaN = missing.
    cuts : sequence of float, length L-1
        Strictly increasing cut scores; a score equal to a cut reaches the
        higher level.
    labels : sequence of str, length L, optional
        Level labels, lowest first (e.g. ``["萌芽", "基礎", "精熟", "進階"]``).
        Defaults to ``level0 .. level{L-1}``.

    Returns
    -------
    ProficiencyLevels
    """
    c, lab = _check_cuts(cuts, labels)
    s = np.asarray(scores, dtype=np.float64)
    idx = np.searchsorted(c, s, side="right").astype(np.int64)
    missing = np.isnan(s)
    idx = np.where(missing, -1, idx)
    lab_arr = np.asarray(lab + ("",))
    labels_out = lab_arr[np.where(missing, len(lab), idx)]
    counts = np.bincount(idx[~missing].reshape(-1), minlength=len(lab)).astype(np.int64)
    return ProficiencyLevels(
        index=idx,
        labels=labels_out,
        level_labels=lab,
        cuts=tuple(float(v) for v in c),
        counts=counts,
    )


@dataclass(frozen=True)
class ReportingScale:
    """A reporting-scale configuration: linear transformation plus levels.

    Attributes
    ----------
    mean, sd : float
        Scale mean and SD of the base population (default 500, 100).
    base_mean, base_sd : float
        The base population's theta mean and SD (default 0, 1).
    cuts : tuple of float
        Cut scores *on the reporting scale*, ascending.
    labels : tuple of str
        Level labels, lowest first (``len(cuts) + 1``).
    """

    mean: float = 500.0
    sd: float = 100.0
    base_mean: float = 0.0
    base_sd: float = 1.0
    cuts: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_linear(self.mean, self.sd, self.base_mean, self.base_sd)
        if self.cuts:
            c, lab = _check_cuts(self.cuts, self.labels or None)
            object.__setattr__(self, "cuts", tuple(float(v) for v in c))
            object.__setattr__(self, "labels", lab)
        elif self.labels:
            raise ScoringInputError("labels: level labels were given without cut scores (cuts)")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> ReportingScale:
        """Build from a mapping such as a parsed YAML file.

        Recognised keys: ``mean``, ``sd``, ``base_mean``, ``base_sd``,
        ``cuts`` (list) and ``labels`` (list), or ``levels``: a list of
        ``{"label": ..., "min": ...}`` entries (lowest level first; the first
        entry's ``min`` is ignored).
        """
        known = {"mean", "sd", "base_mean", "base_sd", "cuts", "labels", "levels"}
        unknown = set(config) - known
        if unknown:
            raise ScoringInputError(
                f"scale configuration: unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}"
            )
        cuts = list(config.get("cuts", ()))
        labels = list(config.get("labels", ()))
        if "levels" in config:
            if cuts or labels:
                raise ScoringInputError("scale configuration: give either 'levels' or 'cuts'/'labels', not both")
            levels = list(config["levels"])
            try:
                labels = [str(lv["label"]) for lv in levels]
                cuts = [float(lv["min"]) for lv in levels[1:]]
            except (KeyError, TypeError, ValueError) as exc:
                raise ScoringInputError(
                    "scale configuration: each entry of 'levels' needs a 'label' and a numeric 'min'"
                ) from exc
        return cls(
            mean=float(config.get("mean", 500.0)),
            sd=float(config.get("sd", 100.0)),
            base_mean=float(config.get("base_mean", 0.0)),
            base_sd=float(config.get("base_sd", 1.0)),
            cuts=tuple(float(v) for v in cuts),
            labels=tuple(str(v) for v in labels),
        )

    def scores(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Scale scores of ``theta`` (see :func:`scale_scores`)."""
        return scale_scores(theta, self.mean, self.sd, self.base_mean, self.base_sd)

    def standard_errors(self, se: ArrayLike) -> NDArray[np.float64]:
        """Standard errors of ``theta`` on the reporting scale."""
        return scale_standard_errors(se, self.sd, self.base_sd)

    def theta(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Theta of reporting-scale ``scores`` (inverse transformation)."""
        return theta_from_scale(scores, self.mean, self.sd, self.base_mean, self.base_sd)

    def levels(self, scores: ArrayLike) -> ProficiencyLevels:
        """Proficiency levels of reporting-scale ``scores``."""
        if not self.cuts:
            raise ScoringInputError("cuts: this ReportingScale has no cut scores; add 'cuts' and 'labels'")
        return proficiency_levels(scores, self.cuts, self.labels)
