"""The city overview as tables of text cells in the reader's language: one layout for the page and its JSON.

The server renders these tables (the page works without JavaScript), and the page's script
puts the same tables from the JSON endpoint in place row by row. The layout is decided here,
once; the script knows nothing of columns.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assessment.overview import CityOverview, Counts, DistrictLine, Problem, SchoolLine, SessionLine
from assessment.proctoring import TAIWAN

from .i18n import gettext as _

__all__ = ["Table", "page_model"]

Cell = dict[str, str]
Url = Callable[..., str]

_COUNT_COLUMNS = (("overview.col.students", "num"), ("overview.col.not_joined", "num"),
                  ("overview.col.joined", "num"), ("overview.col.in_progress", "num"),
                  ("overview.col.submitted", "num"), ("overview.col.timed_out", "num"),
                  ("overview.col.percent_done", "num"))
_WARN_WHEN_ANY = ("problem_schools", "problems")  # summary figures shown as a warning when not 0
PROBLEM_ORDER = {"offline": 0, "stalled": 1, "overdue": 2, "late": 3, "paused": 4}


@dataclass(frozen=True)
class Table:
    """One table: its id, caption, headers (message key, css class), rows and the text shown when empty."""

    id: str
    heading: str
    caption: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[dict[str, Any], ...]
    empty: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "columns": len(self.columns), "empty": self.empty, "rows": list(self.rows)}


def _cell(text: object, href: str | None = None, cls: str = "", label: str = "") -> Cell:
    """A cell: text, optionally a link (with an accessible name when the text alone is ambiguous) and a class."""
    out = {"t": str(text)}
    if href:
        out["href"] = href
    if cls:
        out["c"] = cls
    if label:
        out["label"] = label
    return out


def _percent(value: float | None) -> Cell:
    return _cell(_("overview.percent", n=round(value)) if value is not None else _("overview.none"), cls="num")


def _counts(c: Counts) -> list[Cell]:
    return [_cell(n, cls="num") for n in (c.students, c.not_joined, c.joined, c.in_progress, c.submitted,
                                          c.timed_out)] + [_percent(c.percent_done)]


def _time(value: datetime | None, today: datetime) -> str:
    if value is None:
        return _("overview.none")
    local = value.astimezone(TAIWAN)
    return local.strftime("%H:%M:%S" if local.date() == today.astimezone(TAIWAN).date() else "%m-%d %H:%M")


def problem_text(p: Problem) -> str:
    return _(f"overview.problem.{p.kind}", count=p.count, of=p.of, minutes=p.minutes)


def _problems_cell(problems: Iterable[Problem]) -> Cell:
    texts = [problem_text(p) for p in sorted(problems, key=lambda p: PROBLEM_ORDER.get(p.kind, 9))]
    return _cell(_("overview.problem_sep").join(texts) if texts else _("overview.none"), cls="problem" if texts else "")


def _row(key: object, cells: list[Cell], problem: bool = False) -> dict[str, Any]:
    return {"key": str(key), "cls": "has-problem" if problem else "", "cells": cells}


class _Builder:
    """Tables of one level of one overview, for one reader (language, admin links)."""

    def __init__(self, overview: CityOverview, url: Url, lang: str, admin: bool) -> None:
        self.o = overview
        self.url = url
        self.lang = lang
        self.admin = admin
        self.window = {"window": overview.window_code}

    def school_url(self, school: SchoolLine) -> str:
        return self.url("overview.school", source_id=school.source_id, **self.window)

    def live(self, session_id: int | None, class_name: str) -> Cell:
        if not self.admin or session_id is None:
            return _cell("")
        return _cell(_("overview.live_link"), self.url("proctor.live", session_id=session_id),
                     label=_("overview.live_link_label", cls=class_name, id=session_id))

    def districts(self) -> Table:
        rows = tuple(_row(d.source_id, [
            _cell(d.name(self.lang), self.url("overview.district", source_id=d.source_id, **self.window)),
            _cell(d.running, cls="num"), *_counts(d.counts), _cell(d.untested, cls="num"),
            _cell(_("overview.problem_schools_n", n=len(d.problem_schools)) if d.problem_schools
                  else _("overview.none"), cls="problem" if d.problem_schools else ""),
            _cell(_time(d.last_activity, self.o.computed_at)),
        ], bool(d.problem_schools)) for d in self.o.districts)
        columns = (("overview.col.district", ""), ("overview.col.running", "num"), *_COUNT_COLUMNS,
                   ("overview.col.untested", "num"), ("overview.col.problems", ""), ("overview.col.last_activity", ""))
        return Table("districts", _("overview.h.districts"), _("overview.caption.districts"), columns, rows,
                     _("overview.empty.rows"))

    def schools(self, district: DistrictLine) -> Table:
        rows = tuple(_row(s.source_id, [
            _cell(s.name(self.lang), self.school_url(s)), _cell(s.running, cls="num"), *_counts(s.counts),
            _cell(len(s.untested), cls="num"), _problems_cell(s.problems),
            _cell(_time(s.last_activity, self.o.computed_at)),
        ], bool(s.problems)) for s in district.schools)
        columns = (("overview.col.school", ""), ("overview.col.running", "num"), *_COUNT_COLUMNS,
                   ("overview.col.untested", "num"), ("overview.col.problems", ""), ("overview.col.last_activity", ""))
        return Table("schools", _("overview.h.schools"), _("overview.caption.schools"), columns, rows,
                     _("overview.empty.rows"))

    def session_status(self, s: SessionLine) -> Cell:
        state = "waiting" if s.status == "open" and not s.started else s.status
        return _cell(_(f"overview.status.{state}"), cls=f"badge ss-{state}")

    def sessions(self, school: SchoolLine) -> Table:
        rows = tuple(_row(s.id, [
            _cell(s.class_name), _cell(_("overview.grade_n", grade=s.grade)), self.session_status(s),
            *_counts(s.counts), _cell(s.counts.offline, cls="num"),
            _cell(s.counts.locked, cls="num"), _problems_cell(s.problems),
            _cell(_time(s.last_activity, self.o.computed_at)), *([self.live(s.id, s.class_name)] if self.admin else []),
        ], bool(s.problems)) for s in school.sessions)
        columns = (("overview.col.class", ""), ("overview.col.grade", ""), ("overview.col.status", ""),
                   *_COUNT_COLUMNS, ("overview.col.offline", "num"), ("overview.col.locked", "num"),
                   ("overview.col.problems", ""), ("overview.col.last_activity", ""),
                   *((("overview.col.live", ""),) if self.admin else ()))
        return Table("sessions", _("overview.h.sessions"), _("overview.caption.sessions"), columns, rows,
                     _("overview.empty.sessions"))

    def problems(self, districts: list[DistrictLine]) -> Table:
        found = [(d, s, p) for d in districts for s in d.schools for p in s.problems]
        found.sort(key=lambda t: (PROBLEM_ORDER.get(t[2].kind, 9), t[0].source_id, t[1].source_id, t[2].class_name))
        city = len(districts) > 1
        rows = tuple(_row(f"{p.session_id}-{p.kind}", [
            _cell(s.name(self.lang), self.school_url(s)), *([_cell(d.name(self.lang))] if city else []),
            _cell(p.class_name), _cell(problem_text(p), cls="problem"),
            *([self.live(p.session_id, p.class_name)] if self.admin else []),
        ], True) for d, s, p in found)
        columns = (("overview.col.school", ""), *((("overview.col.district", ""),) if city else ()),
                   ("overview.col.class", ""), ("overview.col.problem", ""),
                   *((("overview.col.live", ""),) if self.admin else ()))
        return Table("problems", _("overview.h.problems"), _("overview.caption.problems"), columns, rows,
                     _("overview.empty.problems"))

    def untested_by_school(self, districts: list[DistrictLine]) -> Table:
        city = len(districts) > 1
        rows = []
        for d in districts:
            for s in d.schools:
                if not s.untested:
                    continue
                names = _("overview.list_sep").join(_("overview.untested.waiting_name", name=u.name) if u.session_id else u.name
                                 for u in s.untested)
                rows.append(_row(s.source_id, [_cell(s.name(self.lang), self.school_url(s)),
                                               *([_cell(d.name(self.lang))] if city else []),
                                               _cell(len(s.untested), cls="num"), _cell(names)]))
        columns = (("overview.col.school", ""), *((("overview.col.district", ""),) if city else ()),
                   ("overview.col.count", "num"), ("overview.col.classes", ""))
        return Table("untested", _("overview.h.untested"), _("overview.caption.untested"), columns, tuple(rows),
                     _("overview.empty.untested"))

    def untested_classes(self, school: SchoolLine) -> Table:
        rows = tuple(_row(u.class_id, [
            _cell(u.name), _cell(_("overview.grade_n", grade=u.grade)), _cell(u.students, cls="num"),
            _cell(_("overview.untested.not_started" if u.session_id else "overview.untested.no_session")),
            *([self.live(u.session_id, u.name)] if self.admin else []),
        ]) for u in school.untested)
        columns = (("overview.col.class", ""), ("overview.col.grade", ""), ("overview.col.students", "num"),
                   ("overview.col.state", ""), *((("overview.col.live", ""),) if self.admin else ()))
        return Table("untested", _("overview.h.untested"), _("overview.caption.untested"), columns, rows,
                     _("overview.empty.untested"))


def _summary(counts: Counts, extra: list[tuple[str, int]]) -> list[dict[str, Any]]:
    items: list[tuple[str, int | float | None]] = [
        ("students", counts.students), ("not_joined", counts.not_joined), ("joined", counts.joined),
        ("in_progress", counts.in_progress), ("submitted", counts.submitted), ("timed_out", counts.timed_out),
        ("percent_done", counts.percent_done), ("offline", counts.offline), *extra]
    out = []
    for key, n in items:
        text = _percent(n)["t"] if key == "percent_done" else str(n)
        warn = key in _WARN_WHEN_ANY and bool(n)
        out.append({"k": key, "label": _(f"overview.sum.{key}"), "t": text, "n": n, "warn": warn})
    return out


def _problem_list(districts: Iterable[DistrictLine]) -> list[dict[str, Any]]:
    """Every problem as data (for scripts such as the load test's bureau reader)."""
    return [{"kind": p.kind, "district": d.source_id, "school": s.source_id, "class": p.class_name,
             "session_id": p.session_id, "count": p.count, "of": p.of, "minutes": p.minutes}
            for d in districts for s in d.schools for p in s.problems]


def page_model(overview: CityOverview, *, level: str, unit: str | None, url: Url, lang: str,
               admin: bool) -> dict[str, Any]:
    """Title, breadcrumbs, summary and tables of the city, a district or a school.

    `unit` is the district's or school's source id; a KeyError when the overview has no such unit.
    """
    b = _Builder(overview, url, lang, admin)
    crumbs = [{"t": _("overview.crumb.city"), "href": url("overview.city", **b.window)}]
    tables: list[Table]
    if level == "city":
        title = _("overview.title.city")
        districts: list[DistrictLine] = list(overview.districts)
        counts = overview.counts
        extra = [("running", overview.running), ("untested", overview.untested),
                 ("problem_schools", len(overview.problem_schools))]
        tables = [b.districts(), b.problems(districts), b.untested_by_school(districts)]
    elif level == "district":
        district = overview.district(unit or "")
        if district is None:
            raise KeyError(unit)
        title = _("overview.title.district", name=district.name(lang))
        districts = [district]
        counts = district.counts
        extra = [("running", district.running), ("untested", district.untested),
                 ("problem_schools", len(district.problem_schools))]
        tables = [b.schools(district), b.problems(districts), b.untested_by_school(districts)]
    else:
        found = overview.school(unit or "")
        if found is None:
            raise KeyError(unit)
        district, school = found
        crumbs.append({"t": district.name(lang), "href": url("overview.district", source_id=district.source_id,
                                                            **b.window)})
        title = _("overview.title.school", name=school.name(lang))
        districts = [DistrictLine(district.id, district.source_id, district.name_zh, district.name_en, (school,))]
        counts = school.counts
        extra = [("locked", counts.locked), ("running", school.running), ("untested", len(school.untested)),
                 ("problems", len(school.problems))]
        tables = [b.sessions(school), b.untested_classes(school)]
    return {
        "level": level,
        "title": title,
        "crumbs": crumbs,
        "window": {"code": overview.window_code, "name": overview.window_name},
        "computed_at": overview.computed_at.isoformat(),
        "as_of_text": _("overview.as_of", time=_time(overview.computed_at, overview.computed_at)),
        "presence_available": overview.presence_available,
        "summary": _summary(counts, extra),
        "tables": tables,
        "problems": _problem_list(districts),
    }
