"""The item bank pages (issue 11.7): the filtered list, each item's page, and its student view in the player.

Reading rights and who sees keys are `assessment.item_pages`' (ITEM_ROLES, KEY_ROLES);
this module only draws. The item page previews every language server-side
(webapp.item_preview, from `Item.student_view`, which holds no key); the student view
page draws the same view with the player's own modules and stylesheet.
"""
from __future__ import annotations

import math

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from assessment.item_pages import ITEM_ROLES, ItemDetail, ItemQuery, find_items, item_detail, sees_keys
from item_bank.model import DIMENSIONS, GRADES, LANGUAGES, STATUSES
from item_bank.types import names as type_names

from .. import charts as ch
from ..extensions import db_session
from ..i18n import current_language
from ..i18n import gettext as _
from ..item_preview import item_key, item_preview, item_rationale
from ..security import current_user, role_required, strict_page
from .player import player_messages

__all__ = ["bp"]

bp = Blueprint("items", __name__)


@bp.app_template_filter("item_stat")
def item_stat(value: object) -> str:
    """A stored statistic to three decimals; a dash when there is none."""
    return f"{value:.3f}" if isinstance(value, int | float) and math.isfinite(value) else "—"


def _trend_chart(detail: ItemDetail) -> Markup | None:
    """p and item-rest r across the calibration runs that stored them, oldest first (None: fewer than two runs)."""
    runs = detail.calibration_trend
    if len(runs) < 2:
        return None
    labels = [c.label for c in runs]
    series = [ch.TrendSeries(_(f"analysis.col.{key}"), [
        ch.TrendPoint(label, c.statistics.get(key) if c.statistics else None) for label, c in zip(labels, runs)])
        for key in ("p", "r")]
    svg = ch.trend(series, title=_("itemstats.trend_title"), y_label=_("itemstats.trend_y"), categories=labels,
                   no_data_text=_("itemstats.trend_none"), decimals=2,
                   wording=ch.Wording.from_catalogue(_), chart_id="item-trend-chart")
    # the item page runs under the strict CSP (no inline styles); app.css's `figure.chart svg` sizes it instead
    return Markup(str(svg).replace(' style="height:auto"', "", 1))


@bp.after_request
def _private(response: Response) -> Response:
    """Item content is secure test material: never kept by a shared browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _keys_shown() -> bool:
    user = current_user()
    return user is not None and sees_keys(user.role)


@bp.get("/items")
@role_required(*ITEM_ROLES)
def index() -> ResponseReturnValue:
    """The newest version of each item, filtered by dimension, grade, type, status, anchor and id/title."""
    query = ItemQuery.of(request.args)  # InvalidInput: 400 naming the filter
    rows = find_items(db_session(), query)
    return render_template("items.html", items=rows, query=query, dimensions=DIMENSIONS, grades=GRADES,
                           types=type_names(), statuses=STATUSES)


def _version() -> int | None:
    raw = request.args.get("version")
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 6:
        abort(400, description=f"version: expected a version number, e.g. 1; got {raw!r}")
    return int(raw)


@bp.get("/items/<item_id>")
@role_required(*ITEM_ROLES)
def show(item_id: str) -> ResponseReturnValue:
    """One item: its preview in both languages (key and rationale for KEY_ROLES), versions, parameters, statistics."""
    detail = item_detail(db_session(), item_id, _version())  # NotFound: 404
    keys = _keys_shown()
    previews = [(lang, item_preview(detail.item.student_view(lang)),
                 item_key(detail.item, lang) if keys else None, item_rationale(detail.item, lang) if keys else None)
                for lang in LANGUAGES]
    return strict_page(render_template("items/item.html", d=detail, previews=previews, keys=keys,
                                       trend_chart=_trend_chart(detail)))


@bp.get("/items/<item_id>/student")
@role_required(*ITEM_ROLES)
def student_view(item_id: str) -> ResponseReturnValue:
    """The item drawn by the player itself, as a student sees it (answers here are not saved anywhere)."""
    detail = item_detail(db_session(), item_id, _version())
    lang = current_language()
    config = {"lang": lang, "messages": player_messages(lang), "item": detail.item.student_view(lang)}
    return strict_page(render_template("items/student.html", config=config, d=detail,
                                       other_lang=next(code for code in LANGUAGES if code != lang)))
