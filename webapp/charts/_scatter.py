"""Scatter of estimates against the truth, with the identity line (design simulation: true vs estimated difficulty)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from . import _svg as s
from ._data import ChartDataError

__all__ = ["ScatterPoint", "recovery_scatter"]


@dataclass(frozen=True)
class ScatterPoint:
    """One item: its true value, its mean estimate and the SD of the estimates (a vertical bar of ± sd)."""

    label: str
    true: float
    estimate: float
    sd: float | None = None


def recovery_scatter(points: Sequence[ScatterPoint], *, title: str, x_label: str, y_label: str, identity_label: str,
                     summary: str, no_data_text: str = "No data", chart_id: str | None = None) -> Markup:
    """Mean estimates (y) against true values (x), ± 1 SD bars, and the line y = x; `summary` is the description."""
    cid = s.make_id("scatter", (points, title, x_label, y_label, identity_label, summary), chart_id)
    plotted: list[tuple[ScatterPoint, float, float, float]] = []
    for i, p in enumerate(points):
        x = s.finite(p.true, f"recovery_scatter: points[{i}].true")
        y = s.finite(p.estimate, f"recovery_scatter: points[{i}].estimate")
        sd = s.finite(p.sd, f"recovery_scatter: points[{i}].sd") if p.sd is not None else 0.0
        if sd is not None and sd < 0:
            raise ChartDataError(f"recovery_scatter: points[{i}].sd must be >= 0, got {p.sd!r}")
        if x is not None and y is not None:
            plotted.append((p, x, y, sd or 0.0))
    if not plotted:
        return s.no_data(cid, "scatter", title, no_data_text)
    items = [s.LegendItem(identity_label, s.swatch_line(s.MUTED, "6 3", width=1.5)),
             s.LegendItem(y_label, s.swatch_marker("circle", s.BLUE, s.BLUE, 4))]
    key, key_height = s.legend(items, 4, s.TITLE_HEIGHT)
    left, right = 62.0, s.WIDTH - 16
    top = s.TITLE_HEIGHT + key_height + 12
    bottom = top + 360
    lo = min(min(x, y - sd) for _, x, y, sd in plotted)
    hi = max(max(x, y + sd) for _, x, y, sd in plotted)
    ticks = s.nice_ticks(*s.padded(lo, hi), 6)
    xs = s.Scale(ticks[0], ticks[-1], left, right)
    ys = s.Scale(ticks[0], ticks[-1], bottom, top)
    fmt = s.tick_formatter(ticks)
    body = [key,
            s.y_axis(ys, ticks, left=left, right=right, fmt_tick=fmt, title=y_label),
            s.x_axis(xs, ticks, top=top, bottom=bottom, fmt_tick=fmt, title=x_label),
            s.el("line", x1=xs(ticks[0]), y1=ys(ticks[0]), x2=xs(ticks[-1]), y2=ys(ticks[-1]), stroke=s.MUTED,
                 stroke_width=1.5, stroke_dasharray="6 3", class_="chart-identity")]
    dots: list[Markup] = []
    for p, x, y, sd in plotted:
        tip = f"{p.label}: {s.fmt(x, 2)} → {s.fmt(y, 2)}" + (f" ± {s.fmt(sd, 2)}" if sd else "")
        if sd:
            dots.append(s.el("line", x1=xs(x), y1=ys(y - sd), x2=xs(x), y2=ys(y + sd), stroke=s.SKY_BLUE,
                             stroke_width=1.5, class_="chart-error-bar"))
        dots.append(s.marker("circle", xs(x), ys(y), 3.5, fill=s.BLUE, stroke=s.BLUE, tooltip=tip,
                             class_="chart-point"))
    body.append(s.el("g", *dots, class_="chart-points"))
    return s.document(cid, "scatter", title=title, desc=summary, height=bottom + 46, body=body)
