"""The charts of each results page, drawn from its Page (presentation only: labels, order, colours' meaning)."""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from assessment.dashboards import Group, Page
from assessment.reporting_config import ReportingConfig

from . import charts as ch
from .i18n import current_language
from .i18n import gettext as _

__all__ = ["charts_for", "dimension_labels", "group_label", "level_labels"]


def _wording() -> ch.Wording:
    """The charts' own words (legends, descriptions) in the reader's language."""
    return ch.Wording.from_catalogue(_)


def level_labels(page: Page, config: ReportingConfig) -> list[tuple[str, str]]:
    """(code, label) of the run's levels in the reader's language, lowest first."""
    lang = current_language()
    known = {lv.code: lv.label.get(lang) or lv.label["zh-TW"] for lv in config.levels}
    return [(code, known.get(code, code)) for code in page.level_codes]


def dimension_labels(config: ReportingConfig) -> dict[str, str]:
    lang = current_language()
    return {d: f"{d} {names.get(lang) or names.get('zh-TW', '')}".strip() for d, names in config.dimensions.items()}


def group_label(g: Group, *, grade: bool = False) -> str:
    """A group's name for a chart or table: unit name (or the city), subgroup, and the grade when asked."""
    name = g.name or (_("results.level.city") if g.level == "city" else g.key)
    if g.subgroup.startswith("gender:"):
        name = f"{name} {_('results.gender.' + g.subgroup.split(':', 1)[1])}"
    elif g.subgroup.startswith("tag:"):
        name = f"{name} {_('results.with_tag', tag=g.subgroup.split(':', 1)[1])}"
    elif g.subgroup.startswith("not:"):
        name = f"{name} {_('results.without_tag', tag=g.subgroup.split(':', 1)[1])}"
    return f"{name} {_('results.grade_n', grade=g.grade)}" if grade else name


def _intervals(groups: Sequence[Group], reference: Group | None, title: str, *, highlight: str = "",
               grade: bool = False) -> Markup:
    ref = None
    if reference is not None and reference.mean is not None:
        ref = ch.Reference(group_label(reference), reference.mean, reference.ci_low, reference.ci_high)
    rows = [ch.IntervalRow(group_label(g, grade=grade), g.mean, g.ci_low, g.ci_high, suppressed=g.suppressed,
                           highlight=g.key == highlight) for g in groups]
    return ch.intervals(rows, reference=ref, title=title, x_label=_("results.scale_score"),
                        suppressed_text=_("charts.suppressed"), wording=_wording(), no_data_text=_("charts.no_data"))


def _levels(groups: Sequence[Group], levels: list[tuple[str, str]], title: str, *, grade: bool = True,
            highlight: str = "") -> Markup:
    rows = [ch.LevelRow(group_label(g, grade=grade), None if g.suppressed else g.percents, suppressed=g.suppressed,
                        highlight=g.key == highlight) for g in groups]
    return ch.level_bars(rows, levels=levels, title=title, suppressed_text=_("charts.suppressed"),
                         no_data_text=_("charts.no_data"))


def _profile(series: Sequence[tuple[str, dict[str, float | None]]], dims: dict[str, str], title: str) -> Markup:
    codes = list(dims)
    return ch.grouped_bars([dims[d] for d in codes],
                           [ch.BarSeries(label, [values.get(d) for d in codes]) for label, values in series],
                           title=title, no_data_text=_("charts.no_data"))


def _distribution(page: Page, config: ReportingConfig, levels: list[tuple[str, str]], title: str) -> Markup:
    dist = page.distribution
    series = [ch.HistSeries(f"{_('results.level.city') if label == 'city' else page.name} "
                            f"{_('results.grade_n', grade=grade)}", pcts)
              for label, by_grade in dist.items() if label != "edges" for grade, pcts in sorted(by_grade.items())]
    cuts = [ch.Cut(c, label) for c, (_code, label) in zip(page.cuts, levels[1:], strict=False)]
    return ch.histogram(series, edges=dist["edges"], cuts=cuts, title=title, x_label=_("results.scale_score"),
                        y_label=_("results.percent_students"), wording=_wording(), no_data_text=_("charts.no_data"))


def _items(page: Page, title: str, *, limit: int | None = None) -> Markup:
    rows = [i for i in page.items if not i.suppressed][:limit]
    return ch.dumbbell([ch.DumbbellRow(f"{i.title} ({i.item_id})", i.pct, i.city_pct) for i in rows], title=title,
                       value_label=page.name, reference_label=_("results.level.city"),
                       no_data_text=_("charts.no_data"))


def charts_for(page: Page, config: ReportingConfig) -> dict[str, Markup]:
    """Every chart of the page by name; each has a table beside it in the template."""
    levels = level_labels(page, config)
    dims = dimension_labels(config)
    out: dict[str, Markup] = {}
    city = {g.grade: g for groups in page.sections.values() for g in groups
            if g.level == "city" and g.subgroup == "all"}
    if page.distribution:
        out["distribution"] = _distribution(page, config, levels, _("results.chart.distribution"))
    if page.kind == "city":
        out["levels"] = _levels(page.sections["city"], levels, _("results.chart.levels"))
        out["districts"] = _intervals(page.sections["districts"], None, _("results.chart.districts"), grade=True)
        for grade in page.grades:
            c = city.get(grade)
            schools = [g for g in page.sections["schools"] if g.grade == grade and not g.suppressed]
            if c is not None and c.mean is not None and c.sd is not None:
                out[f"funnel_{grade}"] = ch.funnel(
                    [ch.FunnelPoint(g.name, g.n or 0, g.mean or 0.0) for g in schools],
                    centre=c.mean, sd=c.sd, title=_("results.chart.funnel", grade=grade),
                    x_label=_("results.students_n"), y_label=_("results.scale_score"),
                    centre_label=_("results.city_mean"), wording=_wording(), no_data_text=_("charts.no_data"))
        out["grades"] = _intervals(page.sections["city"], None, _("results.chart.grades"), grade=True)
        years = sorted({(t.year, t.window) for t in page.trend})
        out["trend"] = ch.trend([ch.TrendSeries(_("results.grade_n", grade=grade),
                                                [ch.TrendPoint(w, t.mean, t.ci_low, t.ci_high)
                                                 for y, w in years for t in page.trend
                                                 if t.window == w and t.grade == grade])
                                 for grade in page.grades], title=_("results.chart.trend"),
                                y_label=_("results.scale_score"), categories=[w for _y, w in years],
                                wording=_wording(), no_data_text=_("charts.no_data"))
        out["profile"] = _profile([(group_label(g, grade=True), g.dimensions) for g in page.sections["city"]], dims,
                                  _("results.chart.profile"))
    elif page.kind == "district":
        for grade in page.grades:
            schools = [g for g in page.sections["schools"] if g.grade == grade]
            out[f"schools_{grade}"] = _intervals(schools, city.get(grade),
                                                 _("results.chart.schools_in", name=page.name, grade=grade))
        rows = page.sections["district"] + page.sections["city"]
        out["levels"] = _levels(rows, levels, _("results.chart.levels"))
        out["profile"] = _profile([(group_label(g, grade=True), g.dimensions) for g in rows], dims,
                                  _("results.chart.profile"))
    elif page.kind == "school":
        rows = page.sections["school"]
        out["compare"] = _intervals(rows, None, _("results.chart.against_city"), grade=True, highlight=page.key)
        out["levels"] = _levels(rows, levels, _("results.chart.levels"), highlight=page.key)
        for grade in page.grades:
            classes = [g for g in page.sections["classes"] if g.grade == grade]
            if classes:
                out[f"classes_{grade}"] = _intervals(classes, city.get(grade),
                                                     _("results.chart.classes", grade=grade))
        out["profile"] = _profile([(group_label(g, grade=True), g.dimensions) for g in rows
                                   if g.level in ("school", "city")], dims, _("results.chart.profile"))
        out["items"] = _items(page, _("results.chart.items"))
    elif page.kind == "class":
        rows = page.sections["class"]
        out["compare"] = _intervals(rows, None, _("results.chart.against_city"), highlight=page.key)
        out["levels"] = _levels(rows, levels, _("results.chart.levels"), grade=False, highlight=page.key)
        out["items"] = _items(page, _("results.chart.items_missed"), limit=10)
    elif page.kind == "student":
        s = page.students[0]
        bands = _bands(page, levels, s.low, s.high)
        out["band"] = ch.score_band(s.score, s.low, s.high, bands=bands, title=_("results.chart.band"),
                                    axis_min=bands[0].start, axis_max=bands[-1].end, marker_label=page.name,
                                    wording=_wording())
        c = city.get(s.grade)
        series = [(page.name, s.dimensions)] + ([(group_label(c, grade=True), c.dimensions)] if c else [])
        out["profile"] = _profile(series, dims, _("results.chart.profile"))
    return out


def _bands(page: Page, levels: list[tuple[str, str]], low: float, high: float) -> list[ch.Band]:
    """The levels as regions of the scale for a student's band chart: the ends reach 1.5 steps out or the band."""
    cuts = list(page.cuts)
    step = (cuts[-1] - cuts[0]) / max(len(cuts) - 1, 1) if len(cuts) > 1 else 100.0
    edges = [min(cuts[0] - 1.5 * step, low - step / 4), *cuts, max(cuts[-1] + 1.5 * step, high + step / 4)]
    return [ch.Band(label, edges[k], edges[k + 1]) for k, (_code, label) in enumerate(levels)]
