"""Means with their uncertainty: interval (forest) plots, funnel plots, year-over-year trends."""
from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

from . import _svg as s
from ._data import ChartDataError, FunnelLimits, FunnelPoint, IntervalRow, Reference, TrendSeries, Wording

WORDING = Wording()
Z_95, Z_998 = 1.96, 3.09  # two-sided 95% and 99.8% normal quantiles (Spiegelhalter 2005)


def _interval_text(wording: Wording, mean: float | None, low: float | None, high: float | None, decimals: int) -> str:
    if mean is None:
        return wording.missing
    if low is None or high is None:
        return s.fmt(mean, decimals)
    return wording.interval.format(mean=s.fmt(mean, decimals), low=s.fmt(low, decimals), high=s.fmt(high, decimals))


Triple = tuple[float | None, float | None, float | None]


def _checked_interval(mean: object, low: object, high: object, where: str) -> Triple:
    m, lo, hi = s.finite(mean, f"{where}.mean"), s.finite(low, f"{where}.low"), s.finite(high, f"{where}.high")
    if lo is not None and hi is not None and lo > hi:
        raise ChartDataError(f"{where}: low must not exceed high, got low={low!r} > high={high!r}")
    return m, lo, hi


def intervals(rows: Sequence[IntervalRow], *, reference: Reference | None = None, title: str, x_label: str,
              suppressed_text: str = "suppressed", no_data_text: str = "No data", decimals: int = 0,
              wording: Wording = WORDING, chart_id: str | None = None) -> Markup:
    """Forest plot: per row a dot at the mean and a line over its 95% interval; an optional reference band."""
    cid = s.make_id("intervals", (rows, reference, title, x_label, suppressed_text, no_data_text, decimals, wording),
                    chart_id)
    if not rows:
        return s.no_data(cid, "intervals", title, no_data_text)
    parsed: list[Triple] = [(None, None, None) if r.suppressed else _checked_interval(r.mean, r.low, r.high, f"intervals: rows[{i}]")
              for i, r in enumerate(rows)]
    ref: Triple = (None, None, None)
    if reference is not None:
        ref = _checked_interval(reference.value, reference.low, reference.high, "intervals: reference")
    values = [v for triple in [*parsed, ref] for v in triple if v is not None]

    items = [s.LegendItem(wording.mean_label, s.swatch_marker("circle", s.BLUE, s.BLUE)),
             s.LegendItem(wording.ci_label, s.swatch_line(s.BLUE))] if values else []
    if reference is not None and ref[0] is not None:
        def ref_swatch(x: float, y: float) -> Markup:
            return (s.el("rect", x=x, y=y - 7, width=22, height=14, fill=s.MUTED, fill_opacity=0.22)
                    + s.el("line", x1=x + 11, y1=y - 7, x2=x + 11, y2=y + 7, stroke=s.INK, stroke_width=1.5,
                           stroke_dasharray="4 2"))
        items.append(s.LegendItem(f"{reference.label} {s.fmt(ref[0], decimals)}", ref_swatch))
    key, key_height = s.legend(items, 4, s.TITLE_HEIGHT)
    left, right = s.label_margin(r.label for r in rows), s.WIDTH - 20
    top = s.TITLE_HEIGHT + key_height + 8
    pitch = 24.0
    bottom = top + pitch * len(rows)
    body = [key]
    x: s.Scale | None = None
    if values:
        ticks = s.nice_ticks(min(values), max(values), 6)
        x = s.Scale(ticks[0], ticks[-1], left, right)
        body.append(s.x_axis(x, ticks, top=top, bottom=bottom, fmt_tick=s.tick_formatter(ticks), title=x_label))
        if ref[1] is not None and ref[2] is not None:
            body.append(s.el("rect", x=x(ref[1]), y=top, width=x(ref[2]) - x(ref[1]), height=bottom - top,
                             fill=s.MUTED, fill_opacity=0.22, class_="chart-reference-band"))
        if ref[0] is not None:
            body.append(s.el("line", x1=x(ref[0]), y1=top, x2=x(ref[0]), y2=bottom, stroke=s.INK, stroke_width=1.5,
                             stroke_dasharray="4 2", class_="chart-reference"))
    phrases = []
    for i, (row, (mean, low, high)) in enumerate(zip(rows, parsed)):
        yc = top + pitch * i + pitch / 2
        parts = []
        if row.highlight:
            parts.append(s.el("rect", x=0, y=yc - pitch / 2, width=s.WIDTH, height=pitch, fill=s.WASH))
        parts.append(s.label(row.label, left - 8, yc + 4, text_anchor="end",
                             font_weight="bold" if row.highlight else None))
        if row.suppressed or mean is None or x is None:
            text = suppressed_text if row.suppressed else wording.missing
            parts.append(s.el("text", text, x=left + 6, y=yc + 4, fill=s.MUTED, font_style="italic"))
            phrases.append(f"{row.label}: {text}")
        else:
            colour, shape = (s.VERMILLION, "diamond") if row.highlight else (s.BLUE, "circle")
            summary = _interval_text(wording, mean, low, high, decimals)
            parts.insert(0, s.el("title", f"{row.label}: {summary}"))
            if low is not None and high is not None:
                parts.append(s.el("path", d=f"M{s.num(x(low))},{s.num(yc - 4)} V{s.num(yc + 4)} M{s.num(x(low))},"
                                  f"{s.num(yc)} H{s.num(x(high))} M{s.num(x(high))},{s.num(yc - 4)} V{s.num(yc + 4)}",
                                  fill="none", stroke=colour, stroke_width=2, class_="chart-ci"))
            parts.append(s.marker(shape, x(mean), yc, 4.5, fill=colour, stroke="#ffffff", stroke_width=1,
                                  class_="chart-mean"))
            phrases.append(f"{row.label}: {summary}")
        body.append(s.el("g", *parts, class_="chart-row chart-row-highlight" if row.highlight else "chart-row"))
    if reference is not None:
        phrases.append(f"{reference.label}: {_interval_text(wording, *ref, decimals)}")
    return s.document(cid, "intervals", title=title, desc="; ".join(phrases), height=bottom + (46 if x else 8),
                      body=body)


def funnel_limits(centre: float, sd: float, n: float) -> FunnelLimits:
    """Funnel-plot control limits at n students: centre ± 1.96·sd/√n (95%) and ± 3.09·sd/√n (99.8%)."""
    if not (math.isfinite(centre) and math.isfinite(sd) and sd >= 0):
        raise ChartDataError(f"funnel_limits: centre must be finite and sd finite and >= 0, got {centre!r}, {sd!r}")
    if not n > 0:
        raise ChartDataError(f"funnel_limits: n must be positive, got {n!r}")
    se = sd / math.sqrt(n)
    return FunnelLimits(lower_998=centre - Z_998 * se, lower_95=centre - Z_95 * se, upper_95=centre + Z_95 * se,
                        upper_998=centre + Z_998 * se)


def funnel(points: Sequence[FunnelPoint], *, centre: float, sd: float, title: str, x_label: str, y_label: str,
           centre_label: str, no_data_text: str = "No data", decimals: int = 0, wording: Wording = WORDING,
           chart_id: str | None = None) -> Markup:
    """Funnel plot: unit means against their number of students, with 95% and 99.8% control limits around the centre.

    Units outside the 99.8% limits are filled, the others hollow. Units with n < 1 or no mean are left out.
    """
    cid = s.make_id("funnel", (points, centre, sd, title, x_label, y_label, centre_label, no_data_text, decimals,
                               wording), chart_id)
    funnel_limits(centre, sd, 1)  # validates centre and sd
    plotted: list[tuple[FunnelPoint, float]] = []
    for i, p in enumerate(points):
        if isinstance(p.n, bool) or not isinstance(p.n, int) or p.n < 0:
            raise ChartDataError(f"funnel: points[{i}].n must be a whole number >= 0, got {p.n!r}")
        mean = s.finite(p.mean, f"funnel: points[{i}].mean")
        if p.n >= 1 and mean is not None:
            plotted.append((p, mean))
    if not plotted:
        return s.no_data(cid, "funnel", title, no_data_text)

    items = [s.LegendItem(f"{centre_label} {s.fmt(centre, decimals)}", s.swatch_line(s.INK, width=1.5)),
             s.LegendItem(wording.limits_95, s.swatch_line(s.BLUE, "6 3", width=1.5)),
             s.LegendItem(wording.limits_998, s.swatch_line(s.VERMILLION, "2 2", width=1.5)),
             s.LegendItem(wording.inside, s.swatch_marker("circle", "#ffffff", s.BLUE, 4)),
             s.LegendItem(wording.outside, s.swatch_marker("circle", s.VERMILLION, s.VERMILLION))]
    key, key_height = s.legend(items, 4, s.TITLE_HEIGHT)
    left, right = 62.0, s.WIDTH - 16
    top = s.TITLE_HEIGHT + key_height + 12
    bottom = top + 280
    n_max = max(p.n for p, _ in plotted)
    x_ticks = s.nice_ticks(0, max(n_max, 10), 6)  # n is a count: whole-number ticks
    x = s.Scale(0, x_ticks[-1], left, right)
    # limits at small n would dwarf the data: size the y range by the limits at n >= 10
    opening = funnel_limits(centre, sd, max(min(p.n for p, _ in plotted), 10))
    means = [m for _, m in plotted]
    y_ticks = s.nice_ticks(*s.padded(min(*means, opening.lower_998), max(*means, opening.upper_998)), 6)
    y = s.Scale(y_ticks[0], y_ticks[-1], bottom, top)
    body = [key,
            s.y_axis(y, y_ticks, left=left, right=right, fmt_tick=s.tick_formatter(y_ticks), title=y_label),
            s.x_axis(x, x_ticks, top=top, bottom=bottom, fmt_tick=s.tick_formatter(x_ticks), title=x_label)]

    samples = 72
    ns = [math.exp(math.log(x_ticks[-1]) * k / (samples - 1)) for k in range(samples)] if x_ticks[-1] > 1 else [1.0]
    limits = [funnel_limits(centre, sd, n) for n in ns]
    margin = bottom - top  # keep far-off curve points near the plot; the clip path hides them

    def curve(attr: str) -> str:
        return s.polyline([(x(n), min(max(y(getattr(lim, attr)), top - margin), bottom + margin))
                           for n, lim in zip(ns, limits)])
    lines = [s.el("line", x1=left, y1=y(centre), x2=right, y2=y(centre), stroke=s.INK, stroke_width=1.5,
                  class_="chart-centre")]
    for attr, colour, dash, cls in (("lower_95", s.BLUE, "6 3", "chart-limit-95"),
                                    ("upper_95", s.BLUE, "6 3", "chart-limit-95"),
                                    ("lower_998", s.VERMILLION, "2 2", "chart-limit-998"),
                                    ("upper_998", s.VERMILLION, "2 2", "chart-limit-998")):
        lines.append(s.el("path", d=curve(attr), fill="none", stroke=colour, stroke_width=1.5, stroke_dasharray=dash,
                          class_=f"{cls} chart-{attr.replace('_', '-')}"))
    body.append(s.el("g", *lines, clip_path=f"url(#{cid}-plot)", class_="chart-limits"))

    outside: list[str] = []
    dots: list[Markup] = []
    for p, mean in sorted(plotted, key=lambda pm: pm[0].highlight):  # highlighted units on top
        lim = funnel_limits(centre, sd, p.n)
        out = not lim.lower_998 <= mean <= lim.upper_998
        tip = wording.point.format(label=p.label, n=p.n, mean=s.fmt(mean, decimals))
        px, py = x(p.n), y(mean)
        if out:
            outside.append(f"{p.label} (n = {p.n}, {s.fmt(mean, decimals)})")
        dot = s.marker("circle", px, py, 4.5 if out else 4, fill=s.VERMILLION if out else "#ffffff",
                       stroke=s.VERMILLION if out else s.BLUE, tooltip=tip,
                       class_="chart-point " + ("chart-point-outside" if out else "chart-point-inside"))
        if p.highlight:
            end = px + 12 + s.width_of(s.fit(p.label, 24)[0]) > right
            dots.append(s.el("g", s.el("circle", cx=px, cy=py, r=8.5, fill="none", stroke=s.INK, stroke_width=1.5),
                             dot, s.label(p.label, px - 12 if end else px + 12, py + 4, max_units=24,
                                          text_anchor="end" if end else "start", font_weight="bold", stroke="#ffffff",
                                          stroke_width=3, paint_order="stroke"),
                             class_="chart-highlight"))
        else:
            dots.append(dot)
    body.append(s.el("g", *dots, class_="chart-points"))
    clip = s.el("clipPath", s.el("rect", x=left, y=top, width=right - left, height=bottom - top), id=f"{cid}-plot")
    desc = (f"{centre_label} {s.fmt(centre, decimals)}. "
            + wording.funnel_summary.format(outside=len(outside), total=len(plotted))
            + (": " + "; ".join(outside) if outside else ""))
    return s.document(cid, "funnel", title=title, desc=desc, height=bottom + 46, body=body, defs=[clip])


def trend(series: Sequence[TrendSeries], *, title: str, y_label: str, categories: Sequence[str] | None = None,
          no_data_text: str = "No data", decimals: int = 0, wording: Wording = WORDING,
          chart_id: str | None = None) -> Markup:
    """Year-over-year means with 95% error bars, one line per series; missing points leave gaps.

    The x axis shows `categories` if given, else every x of the series: in numeric order when all are whole
    numbers (academic years), else in order of first appearance.
    """
    cid = s.make_id("trend", (series, title, y_label, categories, no_data_text, decimals, wording), chart_id)
    seen: list[str] = []
    table: list[dict[str, Triple]] = []
    for i, ts in enumerate(series):
        row: dict[str, Triple] = {}
        for j, p in enumerate(ts.points):
            if p.x in row:
                raise ChartDataError(f"trend: series[{i}] ({ts.label!r}) has two points for x={p.x!r}")
            row[p.x] = _checked_interval(p.mean, p.low, p.high, f"trend: series[{i}].points[{j}]")
            if p.x not in seen:
                seen.append(p.x)
        table.append(row)
    if categories is None:
        categories = sorted(seen, key=int) if all(x.strip().isdigit() for x in seen) else seen
    elif set(seen) - set(categories):
        raise ChartDataError(f"trend: points have x values not in categories: {sorted(set(seen) - set(categories))!r}")
    values = [v for row in table for triple in row.values() if triple[0] is not None for v in triple if v is not None]
    if not values:
        return s.no_data(cid, "trend", title, no_data_text)

    items = [s.LegendItem(ts.label, s.swatch_line(*s.series_style(i))) for i, ts in enumerate(series)]
    key, key_height = s.legend(items, 4, s.TITLE_HEIGHT)
    left, right = 62.0, s.WIDTH - 16
    top = s.TITLE_HEIGHT + key_height + 12
    bottom = top + 220
    y_ticks = s.nice_ticks(*s.padded(min(values), max(values)), 5)
    y = s.Scale(y_ticks[0], y_ticks[-1], bottom, top)
    band = (right - left) / len(categories)
    body = [key, s.y_axis(y, y_ticks, left=left, right=right, fmt_tick=s.tick_formatter(y_ticks), title=y_label),
            s.el("line", x1=left, y1=bottom, x2=right, y2=bottom, stroke=s.MUTED)]
    for j, cat in enumerate(categories):
        body.append(s.label(cat, left + band * (j + 0.5), bottom + 16, text_anchor="middle",
                            max_units=s.units_for(band - 4), class_="chart-category"))
    dodge = min(10.0, band / (len(series) + 1))
    phrases = []
    for i, (ts, row) in enumerate(zip(series, table)):
        colour, dash, shape = s.series_style(i)
        offset = (i - (len(series) - 1) / 2) * dodge
        runs: list[list[tuple[float, float]]] = [[]]
        parts: list[Markup] = []
        for j, cat in enumerate(categories):
            mean, low, high = row.get(cat, (None, None, None))
            if mean is None:
                runs.append([])
                continue
            px = left + band * (j + 0.5) + offset
            runs[-1].append((px, y(mean)))
            if low is not None and high is not None:
                parts.append(s.el("path", d=f"M{s.num(px - 4)},{s.num(y(low))} H{s.num(px + 4)} M{s.num(px)},"
                                  f"{s.num(y(low))} V{s.num(y(high))} M{s.num(px - 4)},{s.num(y(high))} "
                                  f"H{s.num(px + 4)}", fill="none", stroke=colour, stroke_width=1.5,
                                  class_="chart-error-bar"))
            tip = f"{ts.label}, {cat}: {_interval_text(wording, mean, low, high, decimals)}"
            parts.append(s.marker(shape, px, y(mean), 4.5, fill=colour, stroke="#ffffff", stroke_width=1,
                                  tooltip=tip))
        lines = [s.el("path", d=s.polyline(run), fill="none", stroke=colour, stroke_width=2,
                      stroke_dasharray=dash or None, class_="chart-line") for run in runs if len(run) > 1]
        body.append(s.el("g", *lines, *parts, class_="chart-series"))
        phrases.append(f"{ts.label}: " + ", ".join(
            f"{cat} {_interval_text(wording, *row.get(cat, (None, None, None)), decimals)}" for cat in categories))
    return s.document(cid, "trend", title=title, desc="; ".join(phrases), height=bottom + 28, body=body)
