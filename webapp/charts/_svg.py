"""SVG building blocks shared by the charts: escaping, text fitting, palette, scales, ticks, axes, legend."""
from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ._data import ChartDataError

WIDTH = 720.0  # viewBox width; the svg scales to its container
FONT = 12.0
TITLE_FONT = 14.0
EM_PER_UNIT = 0.55  # advance of a narrow glyph in em; a wide (CJK) glyph counts as two units
LABEL_CAP = 40  # row labels longer than this many units (~20 CJK characters) are cut with an ellipsis
TITLE_HEIGHT = 30.0
LARGEST = 1e12  # no score, count or percent comes near; beyond it, float spacing would garble the ticks
INK = "#1f2328"
MUTED = "#57606a"
GRID = "#d8dee4"
WASH = "#f2f4f7"  # background of highlighted rows

# Okabe & Ito (2008) "Color Universal Design": apart under every common colour-vision deficiency.
BLACK, ORANGE, SKY_BLUE, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
SERIES_COLOURS = (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY_BLUE, BLACK)
# 7 dash patterns × 5 marker shapes (coprime) keep series apart on a grey printout
SERIES_DASHES = ("", "7 3", "2 2", "9 3 2 3", "4 4", "1 3", "12 4")
MARKERS = ("circle", "square", "triangle", "diamond", "triangle-down")
# levels low → high; neighbours differ in grey value too
_LEVEL_PALETTES: dict[int, tuple[str, ...]] = {
    1: (BLUE,),
    2: (VERMILLION, BLUE),
    3: (VERMILLION, YELLOW, BLUE),
    4: (VERMILLION, YELLOW, SKY_BLUE, BLUE),
    5: (VERMILLION, ORANGE, YELLOW, SKY_BLUE, BLUE),
}
_MANY_LEVELS = (VERMILLION, ORANGE, YELLOW, GREEN, SKY_BLUE, BLUE, PURPLE, BLACK)

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


def series_style(i: int) -> tuple[str, str, str]:
    """Colour, dash pattern and marker shape of the i-th series."""
    return SERIES_COLOURS[i % len(SERIES_COLOURS)], SERIES_DASHES[i % len(SERIES_DASHES)], MARKERS[i % len(MARKERS)]


def level_colours(n: int) -> tuple[str, ...]:
    """Fill colours for n ordered levels, low → high."""
    return _LEVEL_PALETTES.get(n) or tuple(_MANY_LEVELS[i % len(_MANY_LEVELS)] for i in range(n))


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def ink_on(fill: str) -> str:
    """Text colour with the better WCAG contrast on `fill`."""
    return "#ffffff" if _luminance(fill) < 0.18 else INK


def tint(colour: str, amount: float) -> str:
    """`colour` mixed with white (amount 0 = colour, 1 = white)."""
    channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in channels)


# --- values -------------------------------------------------------------------------------------------------


def finite(value: object, where: str) -> float | None:
    """`value` as a float, or None when it is None, NaN or infinite."""
    if value is None:
        return None
    if isinstance(value, str | bytes | bool) or not hasattr(value, "__float__"):
        raise ChartDataError(f"{where}: expected a number or None, got {value!r}")
    number = float(value)  # also numpy scalars and Decimal
    if not math.isfinite(number):
        return None
    if abs(number) > LARGEST:
        raise ChartDataError(f"{where}: {number!r} is too large to chart (the limit is ±{LARGEST:g})")
    return number


def fmt(value: float, decimals: int = 0) -> str:
    """`value` with a fixed number of decimals and never "-0"."""
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


def fmt_auto(value: float) -> str:
    """An integer when `value` is whole, else up to two decimals."""
    return fmt(value, 0) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def num(value: float) -> str:
    """A coordinate: at most two decimals."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering lo..hi: at most n intervals, steps of 1, 2 or 5 × 10^k.

    The first tick is <= lo and the last >= hi; equal lo and hi get a small range around them.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ChartDataError(f"nice_ticks: lo and hi must be finite numbers, got lo={lo!r}, hi={hi!r}")
    if lo > hi:
        raise ChartDataError(f"nice_ticks: lo must not exceed hi, got lo={lo!r} > hi={hi!r}")
    if max(abs(lo), abs(hi)) > 1000 * LARGEST:  # room for padding around charted values
        raise ChartDataError(f"nice_ticks: lo and hi must lie within ±{1000 * LARGEST:g}, got lo={lo!r}, hi={hi!r}")
    if n < 2:
        raise ChartDataError(f"nice_ticks: n must be at least 2 intervals, got n={n!r}")
    magnitude = max(abs(lo), abs(hi))
    if hi - lo <= max(magnitude * 1e-9, 1e-12):
        unit = 10.0 ** math.floor(math.log10(magnitude)) if magnitude > 1e-12 else 1.0
        lo, hi = lo - unit / 2, hi + unit / 2
    exponent = math.floor(math.log10((hi - lo) / n))
    while True:  # ends: once step >= hi - lo there are at most 2 intervals
        for multiple in (1, 2, 5):
            step = multiple * 10.0 ** exponent
            first, last = math.floor(lo / step), math.ceil(hi / step)
            if last - first <= n:
                decimals = max(0, -exponent)
                ticks = [round(k * step, decimals) for k in range(first, last + 1)]
                if ticks[0] > lo:
                    ticks.insert(0, round((first - 1) * step, decimals))
                if ticks[-1] < hi:
                    ticks.append(round((last + 1) * step, decimals))
                return ticks
        exponent += 1


def padded(lo: float, hi: float, share: float = 0.04) -> tuple[float, float]:
    """lo..hi widened by `share` of its span on each side, so points do not sit on the frame."""
    pad = (hi - lo) * share
    return lo - pad, hi + pad


def tick_formatter(ticks: Sequence[float], suffix: str = "") -> Callable[[float], str]:
    """Format tick values with as many decimals as the step needs."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-6)) if step > 0 else 0  # step is 1, 2 or 5 × 10^k
    return lambda value: fmt(value, decimals) + suffix


@dataclass(frozen=True)
class Scale:
    """Linear map from data values d0..d1 to SVG coordinates r0..r1."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)

    def clamped(self, value: float) -> float:
        """Like calling the scale, but values outside d0..d1 land on the nearer end."""
        low, high = min(self.d0, self.d1), max(self.d0, self.d1)
        return self(min(max(value, low), high))


# --- text and elements --------------------------------------------------------------------------------------


def clean(text: object) -> str:
    """`text` as a string without the characters XML 1.0 forbids (control characters, lone surrogates)."""
    return _INVALID_XML.sub("", str(text))


def esc(content: object) -> Markup:
    """Markup passes through; anything else is cleaned and escaped."""
    return content if isinstance(content, Markup) else escape(clean(content))


def el(tag: str, *children: object, **attrs: object) -> Markup:
    """One SVG element. Attribute names: `class_` → class, `stroke_width` → stroke-width; None is left out."""
    head = [tag]
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        text = num(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(esc(value))
        head.append(f'{name}="{text}"')
    if not children:
        return Markup(f"<{' '.join(head)}/>")
    return Markup(f"<{' '.join(head)}>{''.join(str(esc(c)) for c in children)}</{tag}>")


def units(text: str) -> int:
    """Width of `text` in units: wide (CJK) characters 2, combining marks 0, the rest 1."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1
               for c in text)


def width_of(text: str, size: float = FONT) -> float:
    """Estimated rendered width of `text` at font size `size`."""
    return units(text) * size * EM_PER_UNIT


def fit(text: str, max_units: float) -> tuple[str, bool]:
    """`text` cut to `max_units` with an ellipsis; True when it was cut."""
    text = clean(text)
    if units(text) <= max_units:
        return text, False
    kept: list[str] = []
    used = 1  # the ellipsis
    for char in text:
        used += units(char)
        if used > max_units:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…", True


def label(text: str, x: float, y: float, *, max_units: float = LABEL_CAP, **attrs: object) -> Markup:
    """A <text> cut to `max_units`; a cut label keeps its full text in a <title> child (tooltip)."""
    shown, cut = fit(text, max_units)
    return el("text", shown, *([el("title", text)] if cut else []), x=x, y=y, **attrs)


def label_margin(labels: Iterable[str]) -> float:
    """Left margin that fits the longest row label (up to LABEL_CAP units)."""
    longest = max((min(units(clean(t)), LABEL_CAP) for t in labels), default=0)
    return max(40.0, longest * FONT * EM_PER_UNIT + 14)


def units_for(width: float, size: float = FONT) -> float:
    """How many text units fit in `width`."""
    return max(width, 0.0) / (size * EM_PER_UNIT)


def marker(shape: str, x: float, y: float, r: float, *, fill: str, stroke: str, stroke_width: float = 1.5,
           tooltip: str | None = None, **attrs: object) -> Markup:
    """A point marker of the given shape centred on (x, y)."""
    children = [el("title", tooltip)] if tooltip is not None else []
    style = {"fill": fill, "stroke": stroke, "stroke_width": stroke_width, **attrs}
    if shape == "circle":
        return el("circle", *children, cx=x, cy=y, r=r, **style)
    if shape == "square":
        s = r * 0.9
        return el("rect", *children, x=x - s, y=y - s, width=2 * s, height=2 * s, **style)
    corners = {
        "triangle": ((0, -1.2), (1.1, 0.8), (-1.1, 0.8)),
        "triangle-down": ((0, 1.2), (1.1, -0.8), (-1.1, -0.8)),
        "diamond": ((0, -1.3), (1.1, 0), (0, 1.3), (-1.1, 0)),
    }[shape]
    d = "M" + " L".join(f"{num(x + dx * r)},{num(y + dy * r)}" for dx, dy in corners) + " Z"
    return el("path", *children, d=d, **style)


def polyline(points: Sequence[tuple[float, float]]) -> str:
    """Path data through `points`."""
    return "M" + " L".join(f"{num(x)},{num(y)}" for x, y in points)


# --- chart parts --------------------------------------------------------------------------------------------


def make_id(kind: str, key: object, chart_id: str | None) -> str:
    """The chart's id: `chart_id` if given, else a hash of its inputs (same input → same id)."""
    if chart_id is not None:
        if not _XML_ID.match(chart_id):
            raise ChartDataError(f"chart_id must be a valid XML id (a letter or _, then letters, digits, _ . -), "
                                 f"got {chart_id!r}")
        return chart_id
    digest = hashlib.sha256(repr((kind, key)).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"chart-{kind}-{digest}"


def document(cid: str, kind: str, *, title: str, desc: str, height: float, body: Iterable[Markup],
             defs: Iterable[Markup] = ()) -> Markup:
    """The <svg> root: accessible name and description, responsive viewBox, the page's font."""
    head = [el("title", title, id=f"{cid}-title"), el("desc", desc, id=f"{cid}-desc")]
    definitions = list(defs)
    if definitions:
        head.append(el("defs", *definitions))
    shown, _ = fit(title, units_for(WIDTH - 4, TITLE_FONT))
    head.append(el("text", shown, x=2, y=18, font_size=TITLE_FONT, font_weight="bold", class_="chart-title"))
    return el("svg", *head, *body, xmlns="http://www.w3.org/2000/svg", id=cid, class_=f"chart chart-{kind}",
              viewBox=f"0 0 {num(WIDTH)} {num(height)}", width="100%", preserveAspectRatio="xMidYMid meet",
              role="img", aria_labelledby=f"{cid}-title", aria_describedby=f"{cid}-desc",
              font_family="inherit", font_size=FONT, fill=INK, style="height:auto")


def no_data(cid: str, kind: str, title: str, text: str) -> Markup:
    """A small chart that only says there is nothing to draw."""
    body = [el("text", text, x=WIDTH / 2, y=54, text_anchor="middle", fill=MUTED, class_="chart-no-data")]
    return document(cid, kind, title=title, desc=text, height=72, body=body)


def hatch(pattern_id: str, background: str = "#eceff2", line: str = "#9aa4ae") -> Markup:
    """A diagonal-stripe pattern (suppressed bars, the lowest level)."""
    return el("pattern", el("rect", width=6, height=6, fill=background),
              el("line", x1=0, y1=0, x2=0, y2=6, stroke=line, stroke_width=2),
              id=pattern_id, patternUnits="userSpaceOnUse", width=6, height=6, patternTransform="rotate(45)")


def halo_text(text: str, x: float, y: float, **attrs: object) -> Markup:
    """Text with a white outline so it reads over lines and stripes."""
    return el("text", text, x=x, y=y, stroke="#ffffff", stroke_width=3, stroke_linejoin="round",
              paint_order="stroke", **attrs)


@dataclass(frozen=True)
class LegendItem:
    """A legend entry: `swatch(x, y)` draws a 22-unit-wide sample whose left middle is (x, y)."""

    label: str
    swatch: Callable[[float, float], Markup]


def swatch_rect(fill: str, stroke: str = "none", fill_opacity: float | None = None) -> Callable[[float, float], Markup]:
    """A filled box (bars, levels)."""
    return lambda x, y: el("rect", x=x, y=y - 6, width=22, height=12, fill=fill, stroke=stroke,
                           fill_opacity=fill_opacity)


def swatch_line(stroke: str, dash: str = "", shape: str | None = None, *, marker_fill: str | None = None,
                width: float = 2) -> Callable[[float, float], Markup]:
    """A line sample with its dash pattern, and the series marker on it."""
    def draw(x: float, y: float) -> Markup:
        line = el("line", x1=x, y1=y, x2=x + 22, y2=y, stroke=stroke, stroke_width=width,
                  stroke_dasharray=dash or None)
        if shape is None:
            return line
        return line + marker(shape, x + 11, y, 4, fill=marker_fill or stroke, stroke=stroke)
    return draw


def swatch_marker(shape: str, fill: str, stroke: str, r: float = 4.5) -> Callable[[float, float], Markup]:
    """A lone marker (points)."""
    return lambda x, y: marker(shape, x + 11, y, r, fill=fill, stroke=stroke)


def legend(items: Sequence[LegendItem], x: float, y: float, max_width: float = WIDTH - 8) -> tuple[Markup, float]:
    """Legend entries left to right, wrapping; returns the group and its height."""
    parts: list[Markup] = []
    cx, cy, row = x, y, 18.0
    for item in items:
        shown, cut = fit(item.label, 36)
        width = 28 + width_of(shown) + 16
        if cx > x and cx + width > x + max_width:
            cx, cy = x, cy + row
        parts.append(item.swatch(cx, cy + 9))
        parts.append(el("text", shown, *([el("title", item.label)] if cut else []), x=cx + 28, y=cy + 13))
        cx += width
    return el("g", *parts, class_="chart-legend"), (cy - y + row if items else 0.0)


def x_axis(scale: Scale, ticks: Sequence[float], *, top: float, bottom: float, fmt_tick: Callable[[float], str],
           title: str | None = None, grid: bool = True) -> Markup:
    """Vertical grid lines (or short tick marks), the baseline, tick labels under it and the axis title."""
    parts: list[Markup] = []
    for t in ticks:
        x = scale(t)
        if grid:
            parts.append(el("line", x1=x, y1=top, x2=x, y2=bottom, stroke=GRID))
        else:
            parts.append(el("line", x1=x, y1=bottom, x2=x, y2=bottom + 4, stroke=MUTED))
        parts.append(el("text", fmt_tick(t), x=x, y=bottom + 15, text_anchor="middle", fill=MUTED))
    parts.append(el("line", x1=scale.r0, y1=bottom, x2=scale.r1, y2=bottom, stroke=MUTED))
    if title:
        parts.append(label(title, (scale.r0 + scale.r1) / 2, bottom + 33, text_anchor="middle",
                           max_units=units_for(abs(scale.r1 - scale.r0))))
    return el("g", *parts, class_="chart-axis chart-axis-x")


def y_axis(scale: Scale, ticks: Sequence[float], *, left: float, right: float, fmt_tick: Callable[[float], str],
           title: str | None = None) -> Markup:
    """Horizontal grid lines, tick labels on the left and the rotated axis title."""
    parts: list[Markup] = []
    for t in ticks:
        y = scale(t)
        parts.append(el("line", x1=left, y1=y, x2=right, y2=y, stroke=GRID))
        parts.append(el("text", fmt_tick(t), x=left - 6, y=y + 4, text_anchor="end", fill=MUTED))
    if title:
        middle = (scale.r0 + scale.r1) / 2
        parts.append(label(title, 14, middle, text_anchor="middle", transform=f"rotate(-90 14 {num(middle)})",
                           max_units=units_for(abs(scale.r1 - scale.r0))))
    return el("g", *parts, class_="chart-axis chart-axis-y")
