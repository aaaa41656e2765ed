"""Values per category against a comparison: grouped bars (dimension profiles), dumbbells (items vs the city)."""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from . import _svg as s
from ._data import BarSeries, ChartDataError, DumbbellRow

BAR_FILLS = (s.BLUE, s.ORANGE, s.GREEN, s.PURPLE, s.SKY_BLUE, s.VERMILLION)


def _value_axis(max_value: float, where: str) -> tuple[float, list[float]]:
    top = s.finite(max_value, f"{where}: max_value")
    if top is None or top <= 0:
        raise ChartDataError(f"{where}: max_value must be a positive number, got {max_value!r}")
    return top, [t for t in s.nice_ticks(0, top, 5) if t <= top + 1e-9]


def _shown(value: float | None, decimals: int, suffix: str) -> str:
    return "—" if value is None else f"{s.fmt(value, decimals)}{suffix}"


def _bar_fill(cid: str, i: int) -> str:
    """Series from the third on also get stripes, so that bars stay apart in grey."""
    return f"url(#{cid}-bars-{i})" if i >= 2 else BAR_FILLS[i % len(BAR_FILLS)]


def _bar_pattern(cid: str, i: int) -> Markup:
    colour = BAR_FILLS[i % len(BAR_FILLS)]
    return s.el("pattern", s.el("rect", width=6, height=6, fill=colour),
                s.el("line", x1=0, y1=0, x2=0, y2=6, stroke="#ffffff", stroke_width=1.5 + (i % 2)),
                id=f"{cid}-bars-{i}", patternUnits="userSpaceOnUse", width=6, height=6,
                patternTransform=f"rotate({45 if i % 2 == 0 else -45})")


def grouped_bars(categories: Sequence[str], series: Sequence[BarSeries], *, title: str, max_value: float = 100.0,
                 value_suffix: str = "%", no_data_text: str = "No data", decimals: int = 0,
                 chart_id: str | None = None) -> Markup:
    """Horizontal grouped bars: per category one bar per series (e.g. this school and the city); None = "—"."""
    cid = s.make_id("grouped-bars", (categories, series, title, max_value, value_suffix, no_data_text, decimals),
                    chart_id)
    values = []
    for i, bs in enumerate(series):
        if len(bs.values) != len(categories):
            raise ChartDataError(f"grouped_bars: series[{i}] ({bs.label!r}) has {len(bs.values)} values; "
                                 f"expected one per category, {len(categories)}")
        values.append([s.finite(v, f"grouped_bars: series[{i}].values[{j}]") for j, v in enumerate(bs.values)])
    if not categories or not any(v is not None for row in values for v in row):
        return s.no_data(cid, "grouped-bars", title, no_data_text)
    top_value, ticks = _value_axis(max_value, "grouped_bars")

    key, key_height = s.legend([s.LegendItem(bs.label, s.swatch_rect(_bar_fill(cid, i)))
                                for i, bs in enumerate(series)], 4, s.TITLE_HEIGHT)
    left, right = s.label_margin(categories), s.WIDTH - 56  # room for the value after the longest bar
    top = s.TITLE_HEIGHT + key_height + 8
    bar, gap, group_gap = 14.0, 3.0, 14.0
    group = len(series) * (bar + gap) - gap + group_gap
    bottom = top + group * len(categories)
    x = s.Scale(0, top_value, left, right)
    body = [key, s.x_axis(x, ticks, top=top, bottom=bottom, fmt_tick=s.tick_formatter(ticks, value_suffix))]
    phrases = []
    for j, category in enumerate(categories):
        y0 = top + group * j + group_gap / 2
        parts = [s.label(category, left - 8, y0 + (group - group_gap) / 2 + 4, text_anchor="end")]
        for i, bs in enumerate(series):
            v = values[i][j]
            yb = y0 + i * (bar + gap)
            if v is None:
                parts.append(s.el("text", "—", x=left + 4, y=yb + bar - 3, fill=s.MUTED, class_="chart-missing"))
                continue
            shown = _shown(v, decimals, value_suffix)
            end = x.clamped(max(v, 0.0))
            parts.append(s.el("rect", s.el("title", f"{category}, {bs.label}: {shown}"), x=left, y=yb,
                              width=end - left, height=bar, fill=_bar_fill(cid, i), class_="chart-bar"))
            parts.append(s.el("text", shown, x=end + 4, y=yb + bar - 3))
        body.append(s.el("g", *parts, class_="chart-group"))
        phrases.append(f"{category}: " + ", ".join(f"{bs.label} {_shown(values[i][j], decimals, value_suffix)}"
                                                   for i, bs in enumerate(series)))
    return s.document(cid, "grouped-bars", title=title, desc="; ".join(phrases), height=bottom + 26, body=body,
                      defs=[_bar_pattern(cid, i) for i in range(2, len(series))])


def dumbbell(rows: Sequence[DumbbellRow], *, title: str, value_label: str, reference_label: str,
             max_value: float = 100.0, value_suffix: str = "%", no_data_text: str = "No data", decimals: int = 0,
             chart_id: str | None = None) -> Markup:
    """Per row a filled dot for the unit's value and a hollow ring for the reference, joined by a line."""
    cid = s.make_id("dumbbell", (rows, title, value_label, reference_label, max_value, value_suffix, no_data_text,
                                 decimals), chart_id)
    pairs = [(s.finite(r.value, f"dumbbell: rows[{i}].value"), s.finite(r.reference, f"dumbbell: rows[{i}].reference"))
             for i, r in enumerate(rows)]
    if not any(v is not None for pair in pairs for v in pair):
        return s.no_data(cid, "dumbbell", title, no_data_text)
    top_value, ticks = _value_axis(max_value, "dumbbell")
    key, key_height = s.legend([s.LegendItem(value_label, s.swatch_marker("circle", s.BLUE, s.BLUE)),
                                s.LegendItem(reference_label, s.swatch_marker("circle", "none", s.INK, 5.5))],
                               4, s.TITLE_HEIGHT)
    left, right = s.label_margin(r.label for r in rows), s.WIDTH - 20
    top = s.TITLE_HEIGHT + key_height + 8
    pitch = 22.0
    bottom = top + pitch * len(rows)
    x = s.Scale(0, top_value, left, right)
    body = [key, s.x_axis(x, ticks, top=top, bottom=bottom, fmt_tick=s.tick_formatter(ticks, value_suffix))]
    phrases = []
    for i, (row, (value, ref)) in enumerate(zip(rows, pairs)):
        yc = top + pitch * i + pitch / 2
        summary = f"{row.label}: {value_label} {_shown(value, decimals, value_suffix)}, {reference_label} {_shown(ref, decimals, value_suffix)}"
        parts = [s.el("title", summary)]
        if row.highlight:
            parts.append(s.el("rect", x=0, y=yc - pitch / 2, width=s.WIDTH, height=pitch, fill=s.WASH))
        parts.append(s.label(row.label, left - 8, yc + 4, text_anchor="end",
                             font_weight="bold" if row.highlight else None))
        if value is not None and ref is not None:
            parts.append(s.el("line", x1=x.clamped(value), y1=yc, x2=x.clamped(ref), y2=yc, stroke=s.MUTED,
                              stroke_width=2.5, class_="chart-link"))
        if value is None and ref is None:
            parts.append(s.el("text", "—", x=left + 4, y=yc + 4, fill=s.MUTED, class_="chart-missing"))
        if value is not None:
            parts.append(s.marker("circle", x.clamped(value), yc, 4.5, fill=s.BLUE, stroke=s.BLUE,
                                  class_="chart-value"))
        if ref is not None:  # drawn after the dot: a ring around it when the two are equal
            parts.append(s.marker("circle", x.clamped(ref), yc, 5.5, fill="none", stroke=s.INK,
                                  class_="chart-reference"))
        body.append(s.el("g", *parts, class_="chart-row chart-row-highlight" if row.highlight else "chart-row"))
        phrases.append(summary)
    return s.document(cid, "dumbbell", title=title, desc="; ".join(phrases), height=bottom + 26, body=body)
