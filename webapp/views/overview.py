"""The city test-day overview for the bureau and admins: pages (city, district, school) and their JSON.

Thin. The counts and problem rules live in assessment.overview. One snapshot of the city is
shared by every reader through Redis (assessment.snapshot_cache) and computed at most once
every OVERVIEW_CACHE_SECONDS. Each request only picks its part and lays it out in the
reader's language (webapp.overview_page). Reading is not audited.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from assessment.errors import Forbidden, NotFound, Unauthorized
from assessment.models import TestWindow, User
from assessment.overview import CityOverview, Thresholds, city_overview
from assessment.presence import Presence
from assessment.snapshot_cache import SnapshotCache
from assessment.windows import get_window, list_windows, selectable_windows

from ..extensions import db_session, services
from ..i18n import catalogue, current_language
from ..overview_page import page_model
from ..security import current_user, role_required, strict_page

__all__ = ["READER_ROLES", "bp"]

bp = Blueprint("overview", __name__, url_prefix="/overview")

READER_ROLES = ("bureau", "admin")
REFRESH_SECONDS = 12  # the page's polling period (±20% jitter, longer after errors)
CACHE_SECONDS = 5.0  # one computation of the city per this many seconds, for everyone
MAX_BACKOFF_SECONDS = 120


def _config(name: str, default: Any) -> Any:
    return current_app.config.get(f"OVERVIEW_{name}", default)


def _cache() -> SnapshotCache[CityOverview]:
    """The app's shared cache of city snapshots (one per app, so its in-process copy is shared by threads)."""
    cache = current_app.extensions.get("ctcensus.overview_cache")
    if cache is None:
        svc = services()
        cache = SnapshotCache(svc.redis, svc.redis_prefix, encode=CityOverview.to_json, decode=CityOverview.from_json,
                              max_age=float(_config("CACHE_SECONDS", CACHE_SECONDS)))
        current_app.extensions["ctcensus.overview_cache"] = cache
    return cache


def _window() -> TestWindow | None:
    """?window=CODE, else the window open now (the newest if several), else the newest window."""
    db = db_session()
    code = request.args.get("window")
    if code:
        return get_window(db, code)
    windows = selectable_windows(db) or list_windows(db)
    return windows[0] if windows else None


def _overview(window: TestWindow) -> CityOverview:
    def compute() -> CityOverview:
        svc = services()
        thresholds = Thresholds.from_mapping(_config("THRESHOLDS", None))
        return city_overview(db_session(), window, presence=Presence(svc.redis, svc.redis_prefix),
                             thresholds=thresholds)

    return _cache().get(f"overview:{window.code}", compute).value


def _model(level: str, unit: str | None) -> tuple[TestWindow | None, dict[str, Any] | None, CityOverview | None]:
    window = _window()
    if window is None:
        return None, None, None
    overview = _overview(window)
    user = current_user()
    try:
        model = page_model(overview, level=level, unit=unit, url=url_for, lang=current_language(),
                           admin=user is not None and user.role == "admin")
    except KeyError:
        raise NotFound(f"no {level} {unit!r} with census classes in test window {window.code}",
                       code=f"no_{level}") from None
    return window, model, overview


def _page(level: str, unit: str | None = None) -> ResponseReturnValue:
    window, model, overview = _model(level, unit)
    lang = current_language()
    api = {"city": url_for("overview.api_city"),
           "district": url_for("overview.api_district", source_id=unit or "-"),
           "school": url_for("overview.api_school", source_id=unit or "-")}[level]
    config = {
        "lang": lang,
        "apiUrl": f"{api}?lang={lang}" + (f"&window={window.code}" if window is not None else ""),
        "refreshSeconds": int(_config("REFRESH_SECONDS", REFRESH_SECONDS)),
        "maxBackoffSeconds": MAX_BACKOFF_SECONDS,
        "loginUrl": url_for("auth.login", next=request.full_path.rstrip("?")),
        "messages": {k: e.get(lang) or e["zh-TW"] for k, e in catalogue().items()
                     if k.startswith(("overview.stale", "overview.updated_at", "overview.login_again"))},
    }
    others = [w for w in list_windows(db_session()) if window is None or w.id != window.id]
    html = render_template("overview/page.html", model=model, overview=overview, window=window, others=others,
                           config=config, refresh_seconds=config["refreshSeconds"],
                           cache_seconds=f'{float(_config("CACHE_SECONDS", CACHE_SECONDS)):g}',
                           thresholds=overview.thresholds if overview else Thresholds())
    return strict_page(html)


@bp.get("")
@role_required(*READER_ROLES)
def city() -> ResponseReturnValue:
    """Every district: students by state, classes not yet tested, schools with problems."""
    return _page("city")


@bp.get("/districts/<source_id>")
@role_required(*READER_ROLES)
def district(source_id: str) -> ResponseReturnValue:
    """A district's schools."""
    return _page("district", source_id)


@bp.get("/schools/<source_id>")
@role_required(*READER_ROLES)
def school(source_id: str) -> ResponseReturnValue:
    """A school's class sessions (admins get links to each session's live view) and its classes not yet tested."""
    return _page("school", source_id)


def _reader() -> User:
    """401 before anything is read; 403 for every role but bureau and admin."""
    user = current_user()
    if user is None:
        raise Unauthorized("sign in as staff first (/login)", code="unauthorized")
    if user.role not in READER_ROLES:
        raise Forbidden("the city overview is for the bureau and admins", code="forbidden")
    return user


def _json(level: str, unit: str | None = None) -> ResponseReturnValue:
    _reader()
    window, model, _unused = _model(level, unit)
    if window is None or model is None:
        raise NotFound("there is no test window yet; create one with `ctcensus window create`", code="no_window")
    body = dict(model)
    body["tables"] = [t.to_dict() for t in model["tables"]]
    body["refresh_seconds"] = int(_config("REFRESH_SECONDS", REFRESH_SECONDS))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/city")
def api_city() -> ResponseReturnValue:
    """The city page's figures and tables as JSON (what the page polls)."""
    return _json("city")


@bp.get("/api/districts/<source_id>")
def api_district(source_id: str) -> ResponseReturnValue:
    return _json("district", source_id)


@bp.get("/api/schools/<source_id>")
def api_school(source_id: str) -> ResponseReturnValue:
    return _json("school", source_id)
