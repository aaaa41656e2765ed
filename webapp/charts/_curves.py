"""Functions of a continuous x drawn as lines: item characteristic (category) curves and information curves."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from . import _svg as s
from ._data import ChartDataError

__all__ = ["CurveSeries", "curves"]


@dataclass(frozen=True)
class CurveSeries:
    """One line: y at each x of the chart (None leaves a gap)."""

    label: str
    ys: Sequence[float | None]


def curves(xs: Sequence[float], series: Sequence[CurveSeries], *, title: str, x_label: str, y_label: str,
           y_range: tuple[float, float] | None = None, height: float = 210.0, no_data_text: str = "No data",
           chart_id: str | None = None) -> Markup:
    """Lines over a shared numeric x (e.g. theta); `y_range` fixes the y axis (probabilities: (0, 1))."""
    cid = s.make_id("curves", (tuple(xs), series, title, x_label, y_label, y_range, height), chart_id)
    checked = [s.finite(x, f"curves: xs[{i}]") for i, x in enumerate(xs)]
    x_values = [x for x in checked if x is not None]
    if len(x_values) != len(checked) or len(x_values) < 2:
        raise ChartDataError("curves: xs must hold at least two finite numbers")
    parsed = []
    for i, cs in enumerate(series):
        if len(cs.ys) != len(x_values):
            raise ChartDataError(f"curves: series[{i}] ({cs.label!r}) has {len(cs.ys)} values for {len(xs)} xs")
        parsed.append([s.finite(y, f"curves: series[{i}].ys[{k}]") for k, y in enumerate(cs.ys)])
    values = [y for ys in parsed for y in ys if y is not None]
    if not values:
        return s.no_data(cid, "curves", title, no_data_text)
    items = [s.LegendItem(cs.label, s.swatch_line(*s.series_style(i)[:2])) for i, cs in enumerate(series)]
    key, key_height = s.legend(items, 4, s.TITLE_HEIGHT) if len(series) > 1 else (Markup(""), 0.0)
    left, right = 62.0, s.WIDTH - 16
    top = s.TITLE_HEIGHT + key_height + 10
    bottom = top + height
    lo, hi = y_range if y_range is not None else (min(0.0, min(values)), max(values))
    y_ticks = s.nice_ticks(lo, hi, 4)
    x_ticks = s.nice_ticks(min(x_values), max(x_values), 8)
    y = s.Scale(y_ticks[0], y_ticks[-1], bottom, top)
    x = s.Scale(x_ticks[0], x_ticks[-1], left, right)
    body = [key, s.y_axis(y, y_ticks, left=left, right=right, fmt_tick=s.tick_formatter(y_ticks), title=y_label),
            s.x_axis(x, x_ticks, top=top, bottom=bottom, fmt_tick=s.tick_formatter(x_ticks), title=x_label)]
    phrases = []
    for i, (cs, ys) in enumerate(zip(series, parsed, strict=True)):
        colour, dash, _shape = s.series_style(i)
        runs: list[list[tuple[float, float]]] = [[]]
        for xv, yv in zip(x_values, ys, strict=True):
            if yv is None:
                runs.append([])
            else:
                runs[-1].append((x(xv), y.clamped(yv)))
        lines = [s.el("path", d=s.polyline(run), fill="none", stroke=colour, stroke_width=2,
                      stroke_dasharray=dash or None, class_="chart-line") for run in runs if len(run) > 1]
        body.append(s.el("g", s.el("title", cs.label), *lines, class_="chart-series"))
        peak = max(((yv, xv) for xv, yv in zip(x_values, ys, strict=True) if yv is not None), default=None)
        if peak is not None:
            phrases.append(f"{cs.label}: max {s.fmt_auto(round(peak[0], 2))} at {s.fmt_auto(round(peak[1], 2))}")
    return s.document(cid, "curves", title=title, desc="; ".join(phrases), height=bottom + 44, body=body)
