"""The item-analysis page's curves as inline SVG: each item's category (characteristic) and information
curves, and the test information curve, drawn from the report's `Curves` (presentation only)."""
from __future__ import annotations

from markupsafe import Markup

from assessment.item_analysis import ItemAnalysis

from . import charts as ch
from .i18n import gettext as _

__all__ = ["item_charts", "test_information_chart"]


def _category_series(probabilities: list[list[float]]) -> list[ch.CurveSeries]:
    if len(probabilities) == 2:  # a 0/1 item: the probability of a correct answer is its ICC
        return [ch.CurveSeries(_("analysis.curve.correct"), probabilities[1])]
    return [ch.CurveSeries(_("analysis.curve.category", k=k), p) for k, p in enumerate(probabilities)]


def item_charts(analysis: ItemAnalysis) -> dict[str, tuple[Markup, Markup]]:
    """{item id: (characteristic curves, information curve)}."""
    c = analysis.curves
    theta = c.theta.tolist()
    out = {}
    for j, row in enumerate(analysis.items):
        icc = ch.curves(theta, _category_series(c.probabilities[j].tolist()),
                        title=_("analysis.curve.icc_title", item=row.item_id), x_label=_("analysis.curve.theta"),
                        y_label=_("analysis.curve.probability"), y_range=(0.0, 1.0), height=160,
                        chart_id=f"icc-{j}")
        info = ch.curves(theta, [ch.CurveSeries(_("analysis.curve.information"), c.information[j].tolist())],
                         title=_("analysis.curve.info_title", item=row.item_id), x_label=_("analysis.curve.theta"),
                         y_label=_("analysis.curve.information"), height=120, chart_id=f"info-{j}")
        out[row.item_id] = (icc, info)
    return out


def test_information_chart(analysis: ItemAnalysis) -> Markup:
    """The test information curve of all the run's items."""
    c = analysis.curves
    return ch.curves(c.theta.tolist(), [ch.CurveSeries(_("analysis.curve.information"), c.test_information.tolist())],
                     title=_("analysis.curve.test_title"), x_label=_("analysis.curve.theta"),
                     y_label=_("analysis.curve.information"), chart_id="test-information")
