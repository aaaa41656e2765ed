"""Server-side SVG charts for the results dashboards (bureau, school, teacher).

Each function returns `markupsafe.Markup` holding one inline <svg>: no JavaScript and no plotting
library, so the pages stay server-rendered, printable and fast. Every chart

* is accessible: role="img", a <title> (the title argument) and a <desc> summarising the data in words;
  the pages also show the data in a table next to the chart;
* escapes every label (school names and item titles are user data) and drops characters XML forbids;
* is responsive (viewBox, width 100%) and uses the page's font (font-family="inherit"), so CJK renders;
* uses the Okabe–Ito colour-blind-safe palette plus dash patterns and marker shapes that survive grey print;
* is deterministic: its ids are a hash of its inputs, so the same input gives the same SVG. Two charts with
  identical inputs on one page would share ids; give one of them `chart_id=`.

Words the charts write themselves (descriptions, some legends) come from a `Wording`, English by default;
pass `Wording.from_catalogue(gettext)` (keys `charts.*` in translations/charts.json) for the page's language.
"""
from __future__ import annotations

from ._bars import dumbbell, grouped_bars
from ._comparisons import funnel, funnel_limits, intervals, trend
from ._curves import CurveSeries, curves
from ._data import (
    Band,
    BarSeries,
    ChartDataError,
    Cut,
    DumbbellRow,
    FunnelLimits,
    FunnelPoint,
    HistSeries,
    IntervalRow,
    LevelRow,
    Reference,
    TrendPoint,
    TrendSeries,
    Wording,
)
from ._distributions import histogram, level_bars, score_band
from ._scatter import ScatterPoint, recovery_scatter
from ._svg import nice_ticks

__all__ = [
    "Band",
    "BarSeries",
    "ChartDataError",
    "CurveSeries",
    "Cut",
    "DumbbellRow",
    "FunnelLimits",
    "FunnelPoint",
    "HistSeries",
    "IntervalRow",
    "LevelRow",
    "Reference",
    "ScatterPoint",
    "TrendPoint",
    "TrendSeries",
    "Wording",
    "curves",
    "dumbbell",
    "funnel",
    "funnel_limits",
    "grouped_bars",
    "histogram",
    "intervals",
    "level_bars",
    "nice_ticks",
    "recovery_scatter",
    "score_band",
    "trend",
]
