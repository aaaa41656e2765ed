"""What the charts take and give: small frozen dataclasses, the wording they write, their error."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

__all__ = [
    "Band",
    "BarSeries",
    "ChartDataError",
    "Cut",
    "DumbbellRow",
    "FunnelLimits",
    "FunnelPoint",
    "HistSeries",
    "IntervalRow",
    "LevelRow",
    "Reference",
    "TrendPoint",
    "TrendSeries",
    "Wording",
]


class ChartDataError(ValueError):
    """A chart was given data it cannot draw; the message names the argument and what was found."""


@dataclass(frozen=True)
class HistSeries:
    """One score distribution: percent of students in each bin (one value per bin, None = unknown)."""

    label: str
    percents: Sequence[float | None]


@dataclass(frozen=True)
class Cut:
    """A cut score and the name of the level that starts there."""

    value: float
    label: str


@dataclass(frozen=True)
class LevelRow:
    """One 100%-stacked bar: percent of students per level code (None when suppressed or unknown)."""

    label: str
    percents: Mapping[str, float | None] | None
    suppressed: bool = False
    highlight: bool = False


@dataclass(frozen=True)
class IntervalRow:
    """One group's mean and 95% confidence interval."""

    label: str
    mean: float | None
    low: float | None
    high: float | None
    suppressed: bool = False
    highlight: bool = False


@dataclass(frozen=True)
class Reference:
    """A reference value (e.g. the city mean) with an optional interval drawn as a band."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class FunnelPoint:
    """One unit (school) in a funnel plot: its number of students and mean."""

    label: str
    n: int
    mean: float | None
    highlight: bool = False


@dataclass(frozen=True)
class FunnelLimits:
    """Control limits of a funnel plot at one n: centre ± 1.96 and ± 3.09 standard errors."""

    lower_998: float
    lower_95: float
    upper_95: float
    upper_998: float


@dataclass(frozen=True)
class TrendPoint:
    """One category (e.g. academic year) of a trend line: mean and 95% interval, None = gap."""

    x: str
    mean: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class TrendSeries:
    """One line of a trend chart."""

    label: str
    points: Sequence[TrendPoint]


@dataclass(frozen=True)
class BarSeries:
    """One series of grouped bars: a value per category, None = no bar."""

    label: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class DumbbellRow:
    """One row of a dumbbell chart: the unit's value and the reference value."""

    label: str
    value: float | None
    reference: float | None
    highlight: bool = False


@dataclass(frozen=True)
class Band:
    """A proficiency-level region of a score scale, start..end."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class Wording:
    """Words the charts write into descriptions and legends: English by default,
    `Wording.from_catalogue(gettext)` for the page's language (keys `charts.<field>`)."""

    mean_label: str = "mean"
    ci_label: str = "95% CI"
    interval: str = "{mean} (95% CI {low}–{high})"
    missing: str = "no data"
    peak: str = "most students at {low}–{high} ({percent})"
    cuts: str = "cut scores"
    limits_95: str = "95% limits"
    limits_998: str = "99.8% limits"
    inside: str = "within the 99.8% limits"
    outside: str = "outside the 99.8% limits"
    funnel_summary: str = "{outside} of {total} outside the 99.8% limits"
    point: str = "{label}: n = {n}, mean {mean}"
    score: str = "{label}: {score} (band {low}–{high}), {level}"

    @classmethod
    def from_catalogue(cls, gettext: Callable[[str], str]) -> Wording:
        """The wording in the current language, read through the message catalogue's `gettext`."""
        return cls(**{f.name: gettext(f"charts.{f.name}") for f in fields(cls)})
