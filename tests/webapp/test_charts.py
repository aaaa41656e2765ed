"""Server-side SVG charts: valid, accessible, escaped, deterministic, and right about their numbers."""
from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import fields
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from webapp.charts import (
    Band,
    BarSeries,
    ChartDataError,
    Cut,
    DumbbellRow,
    FunnelPoint,
    HistSeries,
    IntervalRow,
    LevelRow,
    Reference,
    TrendPoint,
    TrendSeries,
    Wording,
    dumbbell,
    funnel,
    funnel_limits,
    grouped_bars,
    histogram,
    intervals,
    level_bars,
    nice_ticks,
    score_band,
    trend,
)

SVG = "{http://www.w3.org/2000/svg}"
XML_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
EVIL = "<script>alert(1)</script>\"&'"
LEVELS = [("L1", "萌芽"), ("L2", "基礎"), ("L3", "精熟"), ("L4", "進階")]
BANDS = [Band("萌芽", 200, 400), Band("基礎", 400, 500), Band("精熟", 500, 600), Band("進階", 600, 800)]
EDGES = [200, 300, 400, 500, 600, 700, 800]


def make_charts(label: str = "基隆市立仁愛國民小學", title: str = "圖表") -> dict[str, Markup]:
    """One realistic chart of every kind; `label` goes into every label slot."""
    return {
        "histogram": histogram([HistSeries(label, [2, 10, 30, 35, 18, 5]), HistSeries("基隆市 8 年級", [1, 8, 25, 36, 22, 8])],
                               edges=EDGES, cuts=[Cut(400, label), Cut(500, "精熟"), Cut(600, "進階")], title=title,
                               x_label=label, y_label="學生百分比"),
        "level_bars": level_bars([LevelRow(label, {"L1": 12, "L2": 30, "L3": 40, "L4": 18}, highlight=True),
                                  LevelRow("仁愛區", {"L1": 20, "L2": 30, "L3": 30, "L4": 20}),
                                  LevelRow("暖暖區", None, suppressed=True)], levels=LEVELS, title=title),
        "intervals": intervals([IntervalRow(label, 498, 490, 506, highlight=True), IntervalRow("七堵區", 510, 500, 520),
                                IntervalRow("暖暖區", None, None, None, suppressed=True)],
                               reference=Reference(label, 500, 497, 503), title=title, x_label="量尺分數"),
        "funnel": funnel([FunnelPoint(label, 25, 570, highlight=True), FunnelPoint("B", 100, 505),
                          FunnelPoint("C", 9, 470)], centre=500, sd=100, title=title, x_label="學生數",
                         y_label="平均", centre_label=label),
        "trend": trend([TrendSeries(label, [TrendPoint("113", 498, 490, 506), TrendPoint("114", 502, 494, 510)]),
                        TrendSeries("全市", [TrendPoint("113", 500, 498, 502), TrendPoint("114", None, None, None)])],
                       title=title, y_label="平均"),
        "grouped_bars": grouped_bars([label, "D2 演算法"], [BarSeries("本校", [72, None]), BarSeries(label, [65, 61])],
                                     title=title),
        "dumbbell": dumbbell([DumbbellRow(label, 72, 65, highlight=True), DumbbellRow("第 2 題", None, 40)],
                             title=title, value_label=label, reference_label="全市"),
        "score_band": score_band(523, 498, 548, bands=[*BANDS[:3], Band(label, 600, 800)], title=title, axis_min=200,
                                 axis_max=800, marker_label=label),
    }


def parse(chart: Markup) -> ET.Element:
    assert isinstance(chart, Markup)
    root = ET.fromstring(str(chart))
    assert root.tag == f"{SVG}svg"
    return root


def find(root: ET.Element, path: str) -> ET.Element:
    found = root.find(path)
    assert found is not None, path
    return found


def desc_of(chart: Markup) -> str:
    return find(parse(chart), f"{SVG}desc").text or ""


def all_text(root: ET.Element) -> list[str]:
    return [t for el in root.iter() for t in (el.text, el.tail) if t]


def ids(root: ET.Element) -> list[str]:
    return [el.attrib["id"] for el in root.iter() if "id" in el.attrib]


@pytest.mark.parametrize("kind", sorted(make_charts()))
def test_every_chart_parses_and_is_accessible_and_responsive(kind: str) -> None:
    root = parse(make_charts(title="各區平均")[kind])
    assert root.attrib["role"] == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.attrib["aria-labelledby"] == title.attrib["id"] and title.text == "各區平均"
    assert root.attrib["aria-describedby"] == desc.attrib["id"] and desc.text and desc.text.strip()
    assert root.attrib["width"] == "100%" and "height" not in root.attrib
    assert re.fullmatch(r"0 0 \d+(\.\d+)? \d+(\.\d+)?", root.attrib["viewBox"])
    assert root.attrib["preserveAspectRatio"] and root.attrib["font-family"] == "inherit"
    assert all(XML_ID.match(i) for i in ids(root))
    assert len(ids(root)) == len(set(ids(root)))
    assert "<script" not in str(make_charts()[kind]).lower()


def test_ids_are_unique_across_charts_on_one_page() -> None:
    charts = list(make_charts().values()) + list(make_charts(title="另一張").values())
    seen = [i for chart in charts for i in ids(parse(chart))]
    assert len(seen) == len(set(seen))
    one = intervals([IntervalRow("A", 1, 0, 2)], title="t", x_label="x", chart_id="school-42")
    assert parse(one).attrib["id"] == "school-42"
    with pytest.raises(ChartDataError, match="chart_id"):
        intervals([IntervalRow("A", 1, 0, 2)], title="t", x_label="x", chart_id="1 bad")


def test_same_input_gives_the_same_svg() -> None:
    assert make_charts() == make_charts()


@pytest.mark.parametrize("kind", sorted(make_charts()))
def test_labels_and_titles_are_escaped(kind: str) -> None:
    chart = make_charts(label=EVIL, title=EVIL)[kind]
    text = str(chart)
    assert "<script>" not in text and "alert(1)</script>" not in text
    assert "&lt;script&gt;" in text
    root = parse(chart)  # the escaped text reads back as the original label
    assert find(root, f"{SVG}title").text == EVIL
    assert any(EVIL in t for t in all_text(root))


def test_characters_xml_forbids_are_dropped() -> None:
    label = "仁愛\x00國小\x1b\x08\ud800"
    for chart in make_charts(label=label, title=label).values():
        assert any("仁愛國小" in t for t in all_text(parse(chart)))


def test_long_labels_are_cut_with_the_full_label_in_a_tooltip() -> None:
    long = "基隆市立暖暖高級中學附設國民中學部實驗班甲組"  # 23 CJK characters
    root = parse(intervals([IntervalRow(long, 500, 490, 510), IntervalRow("短", 500, 490, 510)], title="t",
                           x_label="x"))
    cut = [el for el in root.iter(f"{SVG}text") if el.text and el.text.endswith("…")]
    assert len(cut) == 1 and long.startswith(cut[0].text[:-1])  # type: ignore[index]
    assert find(cut[0], f"{SVG}title").text == long


def test_descriptions_state_the_values() -> None:
    charts = make_charts(label="仁愛")
    desc = {kind: desc_of(chart) for kind, chart in charts.items()}
    assert "仁愛: 498 (95% CI 490–506)" in desc["intervals"] and "暖暖區: suppressed" in desc["intervals"]
    assert "仁愛: 500 (95% CI 497–503)" in desc["intervals"]  # the reference
    assert "500–600 (35%)" in desc["histogram"] and "仁愛 400" in desc["histogram"]
    assert "仁愛: 萌芽 12%, 基礎 30%, 精熟 40%, 進階 18%" in desc["level_bars"]
    assert "1 of 3 outside" in desc["funnel"] and "仁愛 (n = 25, 570)" in desc["funnel"]
    assert "113 498 (95% CI 490–506)" in desc["trend"] and "114 no data" in desc["trend"]
    assert "仁愛: 本校 72%, 仁愛 65%" in desc["grouped_bars"] and "本校 —" in desc["grouped_bars"]
    assert "第 2 題: 仁愛 —, 全市 40%" in desc["dumbbell"]
    assert desc["score_band"] == "仁愛: 523 (band 498–548), 精熟"


def test_wording_comes_from_the_catalogue_in_both_languages() -> None:
    path = Path(__file__).resolve().parents[2] / "webapp" / "translations" / "charts.json"
    catalogue = json.loads(path.read_text(encoding="utf-8"))
    for f in fields(Wording):
        entry = catalogue[f"charts.{f.name}"]
        assert list(entry)[:2] == ["zh-TW", "en"] and entry["en"] == f.default
    zh = Wording.from_catalogue(lambda key: catalogue[key]["zh-TW"])
    chart = intervals([IntervalRow("仁愛區", 498, 490, 506)], title="t", x_label="x", wording=zh)
    assert "仁愛區: 498（95% 信賴區間 490–506）" in desc_of(chart)


# --- edge cases ---------------------------------------------------------------------------------------------

NO_DATA: dict[str, Callable[[str], Markup]] = {
    "histogram": lambda t: histogram([], edges=[], title="t", x_label="x", y_label="y", no_data_text=t),
    "histogram_all_none": lambda t: histogram([HistSeries("a", [None, math.nan])], edges=[0, 1, 2], title="t",
                                              x_label="x", y_label="y", no_data_text=t),
    "level_bars": lambda t: level_bars([], levels=LEVELS, title="t", no_data_text=t),
    "intervals": lambda t: intervals([], title="t", x_label="x", no_data_text=t),
    "funnel": lambda t: funnel([FunnelPoint("a", 0, None)], centre=500, sd=100, title="t", x_label="x", y_label="y",
                               centre_label="c", no_data_text=t),
    "trend": lambda t: trend([TrendSeries("a", [TrendPoint("113", None, None, None)])], title="t", y_label="y",
                             no_data_text=t),
    "grouped_bars": lambda t: grouped_bars([], [], title="t", no_data_text=t),
    "dumbbell": lambda t: dumbbell([DumbbellRow("a", None, math.nan)], title="t", value_label="v",
                                   reference_label="r", no_data_text=t),
    "score_band": lambda t: score_band(math.nan, 1, 2, bands=BANDS, title="t", axis_min=200, axis_max=800,
                                       marker_label="m", no_data_text=t),
}


@pytest.mark.parametrize("kind", sorted(NO_DATA))
def test_empty_input_gives_a_small_no_data_chart(kind: str) -> None:
    make = NO_DATA[kind]
    chart = make("沒有資料")
    assert "沒有資料" in all_text(parse(chart)) and desc_of(chart) == "沒有資料"
    assert "No data" in all_text(parse(make("No data")))


EDGE_CASES: dict[str, Callable[[], Markup]] = {
    "histogram_nan_and_single_bin": lambda: histogram([HistSeries("a", [math.nan, 40, None, 60]),
                                                       HistSeries("b", [0, 0, 0, 0])],
                                                      edges=[0, 1, 2, 3, 4], title="t", x_label="x", y_label="y"),
    "histogram_one_series_empty": lambda: histogram([HistSeries("a", [None, None]), HistSeries("b", [50, 50])],
                                                    edges=[0, 1, 2], title="t", x_label="x", y_label="y"),
    "histogram_one_bin": lambda: histogram([HistSeries("a", [100])], edges=[0, 10], cuts=[Cut(50, "c"), Cut(99, "d")],
                                           title="t", x_label="x", y_label="y"),
    "level_bars_all_suppressed": lambda: level_bars([LevelRow("a", None, suppressed=True),
                                                     LevelRow("b", {"L1": 50, "L2": 50}, suppressed=True)],
                                                    levels=LEVELS, title="t"),
    "level_bars_none_and_zero": lambda: level_bars([LevelRow("a", {"L1": None, "L2": math.nan}),
                                                    LevelRow("b", {"L4": 100})], levels=LEVELS, title="t"),
    "intervals_all_suppressed": lambda: intervals([IntervalRow("a", 1, 0, 2, suppressed=True),
                                                   IntervalRow("b", None, None, None, suppressed=True)],
                                                  title="t", x_label="x"),
    "intervals_single_point_low_equals_high": lambda: intervals([IntervalRow("a", 500, 500, 500)], title="t",
                                                                x_label="x"),
    "intervals_nan_bounds": lambda: intervals([IntervalRow("a", 500, math.nan, None), IntervalRow("b", math.nan, 1, 2)],
                                              reference=Reference("r", 500), title="t", x_label="x"),
    "funnel_zero_sd": lambda: funnel([FunnelPoint("a", 10, 500), FunnelPoint("b", 20, 510)], centre=500, sd=0,
                                     title="t", x_label="x", y_label="y", centre_label="c"),
    "funnel_n_1": lambda: funnel([FunnelPoint("a", 1, 480)], centre=500, sd=100, title="t", x_label="x", y_label="y",
                                 centre_label="c"),
    "funnel_all_equal": lambda: funnel([FunnelPoint("a", 5, 500)], centre=500, sd=0, title="t", x_label="x",
                                       y_label="y", centre_label="c"),
    "trend_single_year": lambda: trend([TrendSeries("a", [TrendPoint("114", 500, 500, 500)])], title="t", y_label="y"),
    "trend_uneven_series": lambda: trend([TrendSeries("a", [TrendPoint("112", 1), TrendPoint("114", 2, 1, 3)]),
                                          TrendSeries("b", [TrendPoint("113", 3, None, None)])], title="t",
                                         y_label="y"),
    "grouped_bars_out_of_range": lambda: grouped_bars(["a", "b"], [BarSeries("s", [150, -5]),
                                                                    BarSeries("t", [math.nan, 0])], title="t"),
    "dumbbell_single_value": lambda: dumbbell([DumbbellRow("a", 50, None)], title="t", value_label="v",
                                              reference_label="r"),
    "score_band_outside_axis": lambda: score_band(900, 880, 950, bands=BANDS, title="t", axis_min=200, axis_max=800,
                                                  marker_label="m"),
    "score_band_point_band": lambda: score_band(500, 500, 500, bands=[], title="t", axis_min=0, axis_max=1000,
                                                marker_label="m"),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_still_give_valid_svg(case: str) -> None:
    chart = EDGE_CASES[case]()
    root = parse(chart)
    assert desc_of(chart)
    numbers = [v for el in root.iter() if el is not root for k, v in el.attrib.items()
               if k in ("x", "y", "cx", "cy", "r", "width", "height", "x1", "x2", "y1", "y2")]
    assert all(math.isfinite(float(v)) for v in numbers)
    assert all(float(el.attrib["width"]) >= 0 for el in root.iter() if "width" in el.attrib and el is not root)
    assert "nan" not in str(chart).lower()


def test_suppressed_rows_show_their_text() -> None:
    root = parse(EDGE_CASES["intervals_all_suppressed"]())
    assert all_text(root).count("suppressed") == 2 and root.find(f".//{SVG}circle") is None
    bars = parse(level_bars([LevelRow("a", None, suppressed=True)], levels=LEVELS, title="t", suppressed_text="人數過少"))
    assert "人數過少" in all_text(bars) and bars.find(".//*[@class='chart-segment']") is None


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(ChartDataError, match=r"series\[0\].*expected one per bin"):
        histogram([HistSeries("a", [1, 2])], edges=[0, 1, 2, 3], title="t", x_label="x", y_label="y")
    with pytest.raises(ChartDataError, match="edges"):
        histogram([HistSeries("a", [1, 2])], edges=[0, 2, 1], title="t", x_label="x", y_label="y")
    with pytest.raises(ChartDataError, match=r"rows\[0\]: low must not exceed high"):
        intervals([IntervalRow("a", 5, 6, 4)], title="t", x_label="x")
    with pytest.raises(ChartDataError, match=r"rows\[0\]: level codes \['X'\]"):
        level_bars([LevelRow("a", {"X": 100})], levels=LEVELS, title="t")
    with pytest.raises(ChartDataError, match=r"points\[0\]\.n"):
        funnel([FunnelPoint("a", -1, 500)], centre=500, sd=100, title="t", x_label="x", y_label="y", centre_label="c")
    with pytest.raises(ChartDataError, match="sd"):
        funnel([], centre=500, sd=-1, title="t", x_label="x", y_label="y", centre_label="c")
    with pytest.raises(ChartDataError, match=r"series\[0\].*expected one per category"):
        grouped_bars(["a"], [BarSeries("s", [1, 2])], title="t")
    with pytest.raises(ChartDataError, match="axis_min"):
        score_band(1, 0, 2, bands=[], title="t", axis_min=5, axis_max=5, marker_label="m")
    with pytest.raises(ChartDataError, match=r"rows\[0\]\.mean: 1e\+300 is too large"):
        intervals([IntervalRow("a", 1e300, None, None)], title="t", x_label="x")
    with pytest.raises(ChartDataError, match=r"values\[0\]: expected a number"):
        grouped_bars(["a"], [BarSeries("s", ["12"])], title="t")  # type: ignore[list-item]


# --- numbers ------------------------------------------------------------------------------------------------


def test_nice_ticks_examples() -> None:
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(200, 800) == [200, 400, 600, 800]
    assert nice_ticks(0.1, 0.3) == pytest.approx([0.1, 0.15, 0.2, 0.25, 0.3])
    assert nice_ticks(0.12, 0.58) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert nice_ticks(500, 500)[0] < 500 < nice_ticks(500, 500)[-1]
    with pytest.raises(ChartDataError):
        nice_ticks(2, 1)
    with pytest.raises(ChartDataError):
        nice_ticks(math.nan, 1)


@given(lo=st.floats(-1e7, 1e7), span=st.floats(0, 1e7), n=st.integers(2, 12))
def test_nice_ticks_cover_the_range_with_1_2_5_steps(lo: float, span: float, n: int) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi, n)
    assert ticks[0] <= lo and ticks[-1] >= hi
    assert all(a < b for a, b in pairwise(ticks))
    assert 2 <= len(ticks) <= n + 3
    steps = [b - a for a, b in pairwise(ticks)]
    step = steps[0]
    assert all(math.isclose(s, step, rel_tol=1e-6) for s in steps)
    k = math.floor(math.log10(step))
    assert any(math.isclose(step, m * 10.0**e, rel_tol=1e-6) for m in (1, 2, 5) for e in (k - 1, k, k + 1))


def test_funnel_limits_at_a_given_n() -> None:
    lim = funnel_limits(500, 100, 25)  # standard error 20
    assert lim.lower_95 == pytest.approx(500 - 1.96 * 20) and lim.upper_95 == pytest.approx(539.2)
    assert lim.lower_998 == pytest.approx(438.2) and lim.upper_998 == pytest.approx(561.8)
    assert funnel_limits(500, 0, 1).upper_998 == 500
    with pytest.raises(ChartDataError, match="n must be positive"):
        funnel_limits(500, 100, 0)


def test_funnel_marks_points_outside_the_998_limits() -> None:
    points = [FunnelPoint("in", 25, 561), FunnelPoint("out", 25, 562), FunnelPoint("low", 100, 469)]
    root = parse(funnel(points, centre=500, sd=100, title="t", x_label="x", y_label="y", centre_label="c"))
    classes = {(find(el, f"{SVG}title").text or "").split(":")[0]: el.attrib["class"]
               for el in root.iter(f"{SVG}circle") if "chart-point" in el.attrib.get("class", "")}
    assert "chart-point-inside" in classes["in"] and "chart-point-outside" in classes["out"]
    assert "chart-point-outside" in classes["low"]  # 500 - 3.09 * 10 = 469.1
    tooltip = [el.text for el in root.iter(f"{SVG}title")]
    assert "out: n = 25, mean 562" in tooltip
    legend = " ".join(all_text(find(root, ".//*[@class='chart-legend']")))
    assert "95% limits" in legend and "99.8% limits" in legend and "c 500" in legend


def test_level_bar_segments_fill_the_bar() -> None:
    rows = [LevelRow("a", {"L1": 12.5, "L2": 30.1, "L3": 40.2, "L4": 17.2}),
            LevelRow("b", {"L1": 0, "L2": 0, "L3": 3, "L4": 97})]
    root = parse(level_bars(rows, levels=LEVELS, title="t"))
    for row in root.iter(f"{SVG}g"):
        if "chart-row" not in row.attrib.get("class", ""):
            continue
        outline = row.find(f"{SVG}rect[@class='chart-bar-outline']")
        segments = row.findall(f"{SVG}rect[@class='chart-segment']")
        assert outline is not None and segments
        assert sum(float(s.attrib["width"]) for s in segments) == pytest.approx(float(outline.attrib["width"]), abs=0.05)
        assert float(segments[0].attrib["x"]) == pytest.approx(float(outline.attrib["x"]))
    labels = all_text(root)
    assert "40%" in labels and "97%" in labels and "3%" not in labels  # only segments >= 8% are labelled


def test_trend_orders_years_and_keeps_gaps() -> None:
    series = [TrendSeries("a", [TrendPoint("113", 500, 490, 510), TrendPoint("114", 505)]),
              TrendSeries("b", [TrendPoint("112", 495), TrendPoint("113", None), TrendPoint("114", 499)])]
    root = parse(trend(series, title="t", y_label="y"))
    assert [el.text for el in root.iter(f"{SVG}text") if el.attrib.get("class") == "chart-category"] == \
        ["112", "113", "114"]
    b = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "chart-series"][1]
    assert not b.findall(f"{SVG}path[@class='chart-line']")  # 113 is None: no line joins b's points
    chosen = trend(series, title="t", y_label="y", categories=["114", "113", "112"])
    assert "b: 114 499, 113 no data, 112 495" in desc_of(chosen)
    with pytest.raises(ChartDataError, match="not in categories"):
        trend(series, title="t", y_label="y", categories=["113"])


def test_series_differ_by_dash_and_marker_for_grey_print() -> None:
    series = [TrendSeries(f"s{i}", [TrendPoint("113", i), TrendPoint("114", i + 1)]) for i in range(4)]
    root = parse(trend(series, title="t", y_label="y"))
    groups = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "chart-series"]
    dashes = [find(g, f"{SVG}path[@class='chart-line']").attrib.get("stroke-dasharray", "") for g in groups]
    shapes = [(g[-1].tag, g[-1].attrib.get("d", "")[:1]) for g in groups]
    assert len(set(dashes)) == 4 and len({tag for tag, _ in shapes}) >= 2
    colours = {find(g, f"{SVG}path").attrib["stroke"] for g in groups}
    assert colours <= {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}


numbers = st.one_of(st.none(), st.floats(-1e6, 1e6), st.floats(-1e12, 1e12), st.just(math.nan), st.just(math.inf))


@given(labels=st.lists(st.text(max_size=30), min_size=0, max_size=6), data=st.data())
def test_any_labels_and_numbers_give_valid_svg(labels: list[str], data: st.DataObject) -> None:
    vals = [data.draw(numbers) for _ in labels]
    pairs = [sorted(v for v in (data.draw(numbers), data.draw(numbers)) if v is not None and math.isfinite(v))
             for _ in labels]
    lows = [p[0] if len(p) == 2 else None for p in pairs]
    highs = [p[1] if len(p) == 2 else None for p in pairs]
    rows = [IntervalRow(t, v, lo, hi, suppressed=data.draw(st.booleans())) for t, v, lo, hi in zip(labels, vals, lows, highs)]
    charts = [
        intervals(rows, title=labels[0] if labels else "", x_label="x"),
        funnel([FunnelPoint(t, data.draw(st.integers(0, 5000)), v) for t, v in zip(labels, vals)], centre=500,
               sd=data.draw(st.floats(0, 1e3)), title="t", x_label="x", y_label="y", centre_label="c"),
        level_bars([LevelRow(t, {"L1": abs(v) if v is not None and math.isfinite(v) else None, "L3": 10})
                    for t, v in zip(labels, vals)], levels=LEVELS, title="t"),
        trend([TrendSeries(t, [TrendPoint(str(i), v, lo, hi)]) for i, (t, v, lo, hi) in enumerate(zip(labels, vals, lows, highs))],
              title="t", y_label="y"),
        dumbbell([DumbbellRow(t, v, lo) for t, v, lo in zip(labels, vals, lows)], title="t", value_label="v",
                 reference_label="r"),
        grouped_bars(labels, [BarSeries("s", vals)], title="t"),
    ]
    for chart in charts:
        root = parse(chart)
        assert "<script" not in str(chart)
        assert all(math.isfinite(float(v)) for el in root.iter() if el is not root
                   for k, v in el.attrib.items() if k in ("x", "y", "cx", "cy", "width", "height"))
