"""How students spread over the scale: score histograms, level shares, one student's score band."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from markupsafe import Markup

from . import _svg as s
from ._data import Band, ChartDataError, Cut, HistSeries, LevelRow, Wording

WORDING = Wording()


def histogram(series: Sequence[HistSeries], *, edges: Sequence[float], cuts: Sequence[Cut] = (), title: str,
              x_label: str, y_label: str, no_data_text: str = "No data", wording: Wording = WORDING,
              chart_id: str | None = None) -> Markup:
    """Score distributions over shared bins, one step outline per series, dashed lines at the cut scores."""
    cid = s.make_id("histogram", (series, edges, cuts, title, x_label, y_label, no_data_text, wording), chart_id)
    values = [[s.finite(p, f"histogram: series[{i}].percents[{j}]") for j, p in enumerate(hs.percents)]
              for i, hs in enumerate(series)]
    if not any(v is not None for row in values for v in row):
        return s.no_data(cid, "histogram", title, no_data_text)
    xs = [b for j, e in enumerate(edges) if (b := s.finite(e, f"histogram: edges[{j}]")) is not None]
    if len(xs) < 2 or len(xs) != len(edges) or any(a >= b for a, b in pairwise(xs)):
        raise ChartDataError(f"histogram: edges must be at least two finite, increasing numbers, got {list(edges)!r}")
    for i, row in enumerate(values):
        if len(row) != len(xs) - 1:
            raise ChartDataError(f"histogram: series[{i}] ({series[i].label!r}) has {len(row)} percents; "
                                 f"expected one per bin, len(edges) - 1 = {len(xs) - 1}")
        if any(v is not None and v < 0 for v in row):
            raise ChartDataError(f"histogram: series[{i}] ({series[i].label!r}) has a negative percent: {row!r}")

    items = [s.LegendItem(hs.label, s.swatch_line(*s.series_style(i), marker_fill="#ffffff"))
             for i, hs in enumerate(series)]
    key, key_height = s.legend(items, 4, s.TITLE_HEIGHT)
    cut_values = sorted((c for c in cuts if s.finite(c.value, "histogram: cuts") is not None), key=lambda c: c.value)
    left, right = 62.0, s.WIDTH - 16
    top = s.TITLE_HEIGHT + key_height + (34 if cut_values else 10)
    bottom = top + 230
    x = s.Scale(xs[0], xs[-1], left, right)
    y_ticks = s.nice_ticks(0, max(max(v for row in values for v in row if v is not None), 1.0))
    y = s.Scale(0, y_ticks[-1], bottom, top)
    x_ticks = [t for t in s.nice_ticks(xs[0], xs[-1], 6) if xs[0] - 1e-9 <= t <= xs[-1] + 1e-9]
    body = [key,
            s.y_axis(y, y_ticks, left=left, right=right, fmt_tick=s.tick_formatter(y_ticks, "%"), title=y_label),
            s.x_axis(x, x_ticks, top=top, bottom=bottom, fmt_tick=s.tick_formatter(x_ticks), title=x_label)]

    for i, (hs, row) in enumerate(zip(series, values)):
        colour, dash, shape = s.series_style(i)
        outline: list[str] = []
        dots: list[Markup] = []
        run: list[tuple[float, float]] = []
        for j, v in enumerate([*row, None]):
            if v is None:
                if run:
                    outline.append(s.polyline([(run[0][0], bottom), *run, (run[-1][0], bottom)]))
                run = []
                continue
            run += [(x(xs[j]), y(v)), (x(xs[j + 1]), y(v))]
            tip = f"{hs.label}: {s.fmt_auto(xs[j])}–{s.fmt_auto(xs[j + 1])}: {s.fmt(v)}%"
            dots.append(s.marker(shape, x((xs[j] + xs[j + 1]) / 2), y(v), 3.2, fill="#ffffff", stroke=colour,
                                 tooltip=tip))
        if not outline:
            continue
        d = " ".join(outline)
        body.append(s.el("g", s.el("path", d=d + " Z", fill=colour, fill_opacity=0.07, stroke="none"),
                         s.el("path", d=d, fill="none", stroke=colour, stroke_width=2, stroke_dasharray=dash or None,
                              stroke_linejoin="round"),
                         *dots, class_="chart-series"))

    row_end = [-1e9, -1e9]  # right end of the last cut label in each of two rows
    for c in cut_values:
        if not xs[0] <= c.value <= xs[-1]:
            continue
        cx = x(c.value)
        text = f"{c.label} {s.fmt_auto(c.value)}"
        half = s.width_of(text) / 2
        level = 0 if cx - half > row_end[0] + 4 else 1
        row_end[level] = cx + half
        body.append(s.el("g", s.el("line", x1=cx, y1=top - 14 * level, x2=cx, y2=bottom,
                                   stroke=s.INK, stroke_width=1.2, stroke_dasharray="5 3"),
                         s.halo_text(text, cx, top - 6 - 14 * level, text_anchor="middle"), class_="chart-cut"))

    peaks = []
    for hs, row in zip(series, values):
        known = [j for j, v in enumerate(row) if v is not None]
        if not known:
            peaks.append(f"{hs.label}: {wording.missing}")
            continue
        best = max(known, key=lambda j: row[j] or 0.0)
        peaks.append(f"{hs.label}: " + wording.peak.format(low=s.fmt_auto(xs[best]), high=s.fmt_auto(xs[best + 1]),
                                                           percent=f"{s.fmt(row[best] or 0.0)}%"))
    desc = "; ".join(peaks)
    if cut_values:
        desc += f". {wording.cuts}: " + ", ".join(f"{c.label} {s.fmt_auto(c.value)}" for c in cut_values)
    return s.document(cid, "histogram", title=title, desc=desc, height=bottom + 44, body=body)


def _shares(row: LevelRow, codes: Sequence[str], where: str) -> list[float] | None:
    """Percent per level code (missing codes count 0), or None when the row has nothing to show."""
    if row.suppressed or row.percents is None:
        return None
    percents: Mapping[str, float | None] = row.percents
    unknown = sorted(set(percents) - set(codes))
    if unknown:
        raise ChartDataError(f"{where}: level codes {unknown!r} are not in levels {list(codes)!r}")
    shares = [s.finite(percents.get(code), f"{where}.percents[{code!r}]") or 0.0 for code in codes]
    if any(v < 0 for v in shares):
        raise ChartDataError(f"{where}: percents must not be negative, got {dict(percents)!r}")
    return shares if sum(shares) > 0 else None


def level_bars(rows: Sequence[LevelRow], *, levels: Sequence[tuple[str, str]], title: str, suppressed_text: str = "—",
               no_data_text: str = "No data", chart_id: str | None = None) -> Markup:
    """100%-stacked horizontal bars of the share of students per level, one bar per row, with a legend."""
    cid = s.make_id("level-bars", (rows, levels, title, suppressed_text, no_data_text), chart_id)
    if not rows:
        return s.no_data(cid, "level-bars", title, no_data_text)
    codes = [code for code, _ in levels]
    if not codes or len(set(codes)) != len(codes):
        raise ChartDataError(f"level_bars: levels must be non-empty with unique codes, got {list(levels)!r}")
    names = dict(levels)
    colours = s.level_colours(len(codes))
    # the lowest level is striped: in grey print its colour is close to the highest level's
    lowest = s.hatch(f"{cid}-lowest", background=colours[0], line=s.tint(colours[0], 0.45))
    fills = [f"url(#{cid}-lowest)", *colours[1:]] if len(codes) > 1 else list(colours)
    key, key_height = s.legend([s.LegendItem(name, s.swatch_rect(fill, s.MUTED))
                                for (_, name), fill in zip(levels, fills)], 4, s.TITLE_HEIGHT)
    left = s.label_margin(r.label for r in rows)
    right = s.WIDTH - 16
    top = s.TITLE_HEIGHT + key_height + 8
    pitch, bar = 28.0, 18.0
    bottom = top + pitch * len(rows)
    x = s.Scale(0, 100, left, right)
    ticks = [0.0, 25.0, 50.0, 75.0, 100.0]
    body = [key, s.x_axis(x, ticks, top=top, bottom=bottom, fmt_tick=lambda t: f"{s.fmt(t)}%")]
    phrases = []
    for i, row in enumerate(rows):
        shares = _shares(row, codes, f"level_bars: rows[{i}]")
        y0 = top + pitch * i + (pitch - bar) / 2
        weight = "bold" if row.highlight else None
        parts = [s.label(row.label, left - 8, y0 + bar / 2 + 4, text_anchor="end", font_weight=weight)]
        if shares is None:
            parts.append(s.el("rect", x=left, y=y0, width=right - left, height=bar, fill=f"url(#{cid}-hatch)",
                              class_="chart-bar chart-suppressed"))
            parts.append(s.halo_text(suppressed_text, (left + right) / 2, y0 + bar / 2 + 4, text_anchor="middle"))
            phrases.append(f"{row.label}: {suppressed_text}")
        else:
            total, done = sum(shares), 0.0
            for code, colour, fill, share in zip(codes, colours, fills, shares):
                x0, done = x(100 * done / total), done + share
                width = x(100 * done / total) - x0
                if width <= 0:
                    continue
                tip = f"{row.label}: {names[code]} {s.fmt(share)}%"
                parts.append(s.el("rect", s.el("title", tip), x=x0, y=y0, width=width, height=bar, fill=fill,
                                  stroke="#ffffff", stroke_width=0.75, class_="chart-segment"))
                if share / total >= 0.08:
                    text_colour = s.ink_on(colour)
                    parts.append(s.el("text", f"{s.fmt(share)}%", x=x0 + width / 2, y=y0 + bar / 2 + 4,
                                      text_anchor="middle", fill=text_colour, stroke=colour, stroke_width=3,
                                      paint_order="stroke", stroke_linejoin="round"))
            phrases.append(f"{row.label}: " + ", ".join(f"{names[c]} {s.fmt(v)}%" for c, v in zip(codes, shares)))
        parts.append(s.el("rect", x=left, y=y0, width=right - left, height=bar, fill="none",
                          stroke=s.INK if row.highlight else s.MUTED, stroke_width=2 if row.highlight else 0.5,
                          class_="chart-bar-outline"))
        body.append(s.el("g", *parts, class_="chart-row chart-row-highlight" if row.highlight else "chart-row"))
    return s.document(cid, "level-bars", title=title, desc="; ".join(phrases), height=bottom + 24, body=body,
                      defs=[s.hatch(f"{cid}-hatch"), lowest])


def score_band(score: float, low: float, high: float, *, bands: Sequence[Band], title: str, axis_min: float,
               axis_max: float, marker_label: str, no_data_text: str = "No data", decimals: int = 0,
               wording: Wording = WORDING, chart_id: str | None = None) -> Markup:
    """One student's scale score with its measurement band on a scale coloured by proficiency level."""
    cid = s.make_id("score-band", (score, low, high, bands, title, axis_min, axis_max, marker_label, no_data_text,
                                   decimals, wording), chart_id)
    lo_axis, hi_axis = s.finite(axis_min, "score_band: axis_min"), s.finite(axis_max, "score_band: axis_max")
    if lo_axis is None or hi_axis is None or lo_axis >= hi_axis:
        raise ChartDataError(f"score_band: axis_min must be below axis_max, got {axis_min!r} and {axis_max!r}")
    value = s.finite(score, "score_band: score")
    if value is None:
        return s.no_data(cid, "score-band", title, no_data_text)
    lo, hi = s.finite(low, "score_band: low"), s.finite(high, "score_band: high")
    if lo is not None and hi is not None and lo > hi:
        raise ChartDataError(f"score_band: low must not exceed high, got low={low!r} > high={high!r}")
    left, right = 16.0, s.WIDTH - 16
    x = s.Scale(lo_axis, hi_axis, left, right)
    top, bar = 62.0, 30.0
    body: list[Markup] = []
    level = ""
    for i, (band, colour) in enumerate(zip(bands, s.level_colours(len(bands)))):
        start = s.finite(band.start, f"score_band: bands[{i}].start")
        end = s.finite(band.end, f"score_band: bands[{i}].end")
        if start is None or end is None or start >= end:
            raise ChartDataError(f"score_band: bands[{i}] must have start < end, got {band!r}")
        last = i == len(bands) - 1
        if start <= value < end or (last and value == end):
            level = band.label
        x0, x1 = x.clamped(start), x.clamped(end)
        if x1 <= x0:
            continue
        body.append(s.el("g", s.el("rect", s.el("title", band.label), x=x0, y=top, width=x1 - x0, height=bar,
                                   fill=s.tint(colour, 0.55), stroke="#ffffff"),
                         s.label(band.label, (x0 + x1) / 2, top + bar / 2 + 4, text_anchor="middle",
                                 max_units=s.units_for(x1 - x0 - 6)),
                         class_="chart-band"))
    ticks = [t for t in s.nice_ticks(lo_axis, hi_axis, 6) if lo_axis - 1e-9 <= t <= hi_axis + 1e-9]
    body.append(s.x_axis(x, ticks, top=top + bar, bottom=top + bar + 22, fmt_tick=s.tick_formatter(ticks),
                         grid=False))
    band_text = (f"{s.fmt(lo, decimals)}–{s.fmt(hi, decimals)}" if lo is not None and hi is not None
                 else wording.missing)
    if lo is not None and hi is not None:
        xl, xh, yb = x.clamped(lo), x.clamped(hi), top + bar + 12
        body.append(s.el("path", s.el("title", band_text), d=f"M{s.num(xl)},{s.num(yb - 6)} L{s.num(xl)},{s.num(yb)} "
                         f"L{s.num(xh)},{s.num(yb)} L{s.num(xh)},{s.num(yb - 6)}", fill="none", stroke=s.INK,
                         stroke_width=2.5, class_="chart-measurement-band"))
    sx = x.clamped(value)
    text = f"{marker_label} {s.fmt(value, decimals)}"
    half = s.width_of(text) / 2
    body.append(s.el("g", s.el("line", x1=sx, y1=top - 6, x2=sx, y2=top + bar + 12, stroke=s.INK, stroke_width=2),
                     s.marker("triangle-down", sx, top - 9, 6, fill=s.INK, stroke=s.INK),
                     s.label(text, min(max(sx, left + half), right - half), top - 20, text_anchor="middle",
                             font_weight="bold"),
                     class_="chart-score"))
    desc = wording.score.format(label=marker_label, score=s.fmt(value, decimals), low=s.fmt(lo, decimals) if lo is not None
                                else "—", high=s.fmt(hi, decimals) if hi is not None else "—", level=level or "—")
    return s.document(cid, "score-band", title=title, desc=desc, height=top + bar + 46, body=body)
