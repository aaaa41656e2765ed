"""The item bank pages (issue 11.7): a filtered list, and one item's versions, parameters and statistics.

Who may read: `ITEM_ROLES` (as the item list always was: admins, researchers and the
bureau); of those only `KEY_ROLES` see the answer key and the rationale (item
content is secure; the bureau reads results, it does not author or calibrate).
Statistics are read, never computed here: the city-level percent of maximum of
every scoring run (`result_item_stats`), and for calibration runs the summary of
their item analysis each run stores when it ends (`item_analysis_store`); what
nobody computed yet is said so, with the command that computes it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank import Item
from item_bank.model import DIMENSIONS, GRADES, STATUSES
from item_bank.types import names as type_names
from scoring.models import to_irt_parameters

from .errors import InvalidInput, NotFound
from .item_analysis_store import STATISTICS_KEY, analysis_state
from .item_store import item_from_record, list_items
from .models import (
    CalibrationRun,
    Form,
    FormItem,
    ItemParameterRecord,
    ItemRecord,
    ParameterSet,
    ResultItemStat,
    ScoreRun,
    TestWindow,
)

__all__ = ["ITEM_ROLES", "KEY_ROLES", "CalibrationUse", "ItemDetail", "ItemQuery", "ParameterRow", "ScoreStat",
           "VersionRow", "find_items", "item_detail", "sees_keys"]

ITEM_ROLES = ("admin", "researcher", "bureau")
KEY_ROLES = ("admin", "researcher")
_MAX_SEARCH = 64


def sees_keys(role: str | None) -> bool:
    """Whether a staff role may see answer keys and rationales (never a student, never the bureau)."""
    return role in KEY_ROLES


@dataclass(frozen=True)
class ItemQuery:
    """The list's filters; None or "" matches everything."""

    dimension: str | None = None
    grade: int | None = None
    type: str | None = None
    status: str | None = None
    anchor: bool | None = None
    q: str = ""

    @classmethod
    def of(cls, args: Mapping[str, str]) -> ItemQuery:
        """Filters from a query string; InvalidInput names the field, what it may be and what came."""
        def pick(name: str, allowed: tuple[str, ...]) -> str | None:
            value = (args.get(name) or "").strip()
            if value and value not in allowed:
                raise InvalidInput(f"{name}: expected one of {', '.join(allowed)}; got {value!r}")
            return value or None

        grade = pick("grade", tuple(str(g) for g in GRADES))
        anchor = pick("anchor", ("yes", "no"))
        return cls(dimension=pick("dimension", DIMENSIONS), grade=int(grade) if grade else None,
                   type=pick("type", tuple(type_names())), status=pick("status", STATUSES),
                   anchor=None if anchor is None else anchor == "yes", q=(args.get("q") or "").strip()[:_MAX_SEARCH])

    def as_dict(self) -> dict[str, str]:
        """The filters set, as query parameters (for links that keep them)."""
        values = {"dimension": self.dimension, "grade": str(self.grade) if self.grade else None, "type": self.type,
                  "status": self.status, "anchor": None if self.anchor is None else ("yes" if self.anchor else "no"),
                  "q": self.q or None}
        return {k: v for k, v in values.items() if v}


def _titles(record: ItemRecord) -> str:
    title = record.content.get("title") or {}
    return " ".join(str(v) for v in title.values()) if isinstance(title, dict) else str(title)


def find_items(session: Session, query: ItemQuery) -> list[ItemRecord]:
    """The newest version of each item matching the filters; `q` matches the id or a title, any case."""
    rows = list_items(session, grade=query.grade, dimension=query.dimension, status=query.status, type=query.type)
    needle = query.q.casefold()
    return [r for r in rows if (query.anchor is None or r.anchor == query.anchor)
            and (not needle or needle in r.item_id.casefold() or needle in _titles(r).casefold())]


@dataclass(frozen=True)
class VersionRow:
    """One stored version of the item and the forms that deliver it."""

    pk: int
    version: int
    status: str
    created_at: datetime
    content_hash: str
    source: str
    forms: tuple[str, ...]


@dataclass(frozen=True)
class ParameterRow:
    """The item's parameters in one parameter set: slope/intercept with SEs, and b = -d/a for reading."""

    parameter_set: str
    provisional: bool
    published: bool
    windows: tuple[str, ...]  # windows scored with the set (published for)
    version: int
    model: str
    a: float
    d: tuple[float, ...]
    c: float
    b: tuple[float, ...]
    se_a: float | None
    se_d: tuple[float | None, ...]
    se_c: float | None
    fixed: bool
    calibrated: bool  # False: shipped with the item files (no SEs)


@dataclass(frozen=True)
class ScoreStat:
    """The city's percent of the item's maximum score in one scoring run, per grade."""

    window: str
    academic_year: int
    run_id: int
    current: bool
    parameter_set: str
    grade: int
    version: int
    suppressed: bool
    n: int | None
    pct: float | None
    omitted_pct: float | None


@dataclass(frozen=True)
class CalibrationUse:
    """A calibration run whose data held the item (one row per version in it), and the statistics it stored.

    `statistics` is the run's stored summary of its item analysis for this column
    (`item_analysis_store`: p, r, a, b, infit, outfit, sx2_p, dif_gender, dif_grade,
    drift, flags), None while not computed; `analysis` says why: pending, failed or
    None (the run is not done, or was done before runs stored their statistics).
    """

    run_id: int
    name: str
    window: str
    academic_year: int
    status: str
    finished_at: datetime | None
    column: str  # the item's column in the run's data: its id, or ID-vN when two versions were in it
    versioned: bool  # the column names its version (ID-vN)
    version: int | None
    analysis: str | None
    statistics: dict[str, Any] | None

    @property
    def label(self) -> str:
        """The run as a trend chart's category: academic year and run number."""
        return f"{self.academic_year} #{self.run_id}" + (f" v{self.version}" if self.versioned else "")


@dataclass(frozen=True)
class ItemDetail:
    """Everything the item page shows, for one chosen version."""

    record: ItemRecord
    item: Item
    versions: tuple[VersionRow, ...]
    parameters: tuple[ParameterRow, ...]
    score_stats: tuple[ScoreStat, ...]
    calibrations: tuple[CalibrationUse, ...]

    @property
    def calibration_trend(self) -> tuple[CalibrationUse, ...]:
        """The runs with stored statistics, oldest first (academic year, then run): the item's trend."""
        return tuple(sorted((c for c in self.calibrations if c.statistics is not None),
                            key=lambda c: (c.academic_year, c.run_id, c.column)))


def _versions(session: Session, records: list[ItemRecord]) -> tuple[VersionRow, ...]:
    forms: dict[int, list[str]] = {}
    rows = session.execute(select(FormItem.item_pk, Form.code, Form.version).join(Form, Form.id == FormItem.form_id)
                           .where(FormItem.item_pk.in_([r.pk for r in records])).order_by(Form.code, Form.version))
    for pk, code, version in rows:
        forms.setdefault(pk, []).append(f"{code} v{version}")
    return tuple(VersionRow(pk=r.pk, version=r.version, status=str(r.status), created_at=r.created_at,
                            content_hash=r.content_hash[:12], source=r.source, forms=tuple(forms.get(r.pk, ())))
                 for r in sorted(records, key=lambda r: -r.version))


def _se(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _parameters(session: Session, records: dict[int, ItemRecord]) -> tuple[ParameterRow, ...]:
    rows = session.execute(select(ItemParameterRecord, ParameterSet).join(
        ParameterSet, ParameterSet.id == ItemParameterRecord.parameter_set_id)
        .where(ItemParameterRecord.item_pk.in_(list(records))).order_by(ParameterSet.created_at.desc(),
                                                                         ParameterSet.name)).all()
    published: dict[int | None, list[str]] = {}
    for set_id, code in session.execute(select(TestWindow.parameter_set_id, TestWindow.code)
                                        .where(TestWindow.parameter_set_id.is_not(None)).order_by(TestWindow.code)):
        published.setdefault(set_id, []).append(code)
    out = []
    for rec, pset in rows:
        d = np.asarray(rec.d, dtype=np.float64)
        _, b = to_irt_parameters(np.array([rec.a]), d[None, :], model=rec.model)
        se = rec.se or {}
        se_d = se.get("d")
        out.append(ParameterRow(
            parameter_set=pset.name, provisional=pset.provisional, published=pset.published,
            windows=tuple(published.get(pset.id, ())), version=records[rec.item_pk].version, model=rec.model,
            a=rec.a, d=tuple(float(v) for v in d), c=rec.c or 0.0, b=tuple(float(v) for v in b[0]),
            se_a=_se(se.get("a")), se_d=tuple(_se(v) for v in se_d) if isinstance(se_d, list) else (_se(se_d),),
            se_c=_se(se.get("c")), fixed=bool(se.get("fixed")), calibrated=rec.se is not None))
    return tuple(out)


def _score_stats(session: Session, records: dict[int, ItemRecord]) -> tuple[ScoreStat, ...]:
    rows = session.execute(
        select(ResultItemStat, ScoreRun, TestWindow, ParameterSet)
        .join(ScoreRun, ScoreRun.id == ResultItemStat.run_id)
        .join(TestWindow, TestWindow.id == ScoreRun.window_id)
        .join(ParameterSet, ParameterSet.id == ScoreRun.parameter_set_id)
        .where(ResultItemStat.item_pk.in_(list(records)), ResultItemStat.level == "city")
        .order_by(TestWindow.academic_year.desc(), ScoreRun.id.desc(), ResultItemStat.grade)).all()
    return tuple(ScoreStat(window=w.code, academic_year=w.academic_year, run_id=run.id, current=run.current,
                           parameter_set=pset.name, grade=s.grade, version=records[s.item_pk].version,
                           suppressed=s.suppressed, n=s.n, pct=s.pct, omitted_pct=s.omitted_pct)
                 for s, run, w, pset in rows)


def _calibrations(session: Session, item_id: str, versions: dict[int, int]) -> tuple[CalibrationUse, ...]:
    """Every run whose data held the item (newest first), one row per version of it in the run's data."""
    mine = re.compile(rf"{re.escape(item_id)}(?:-v(\d+))?")
    runs = session.execute(select(CalibrationRun, TestWindow).join(TestWindow, TestWindow.id == CalibrationRun.window_id)
                           .order_by(CalibrationRun.id.desc())).all()
    out = []
    for run, window in runs:
        items = (run.selection or {}).get("items")
        if not isinstance(items, list):
            continue  # not read yet
        stats = (run.result or {}).get(STATISTICS_KEY)
        state = analysis_state(run)
        for column in items:
            match = mine.fullmatch(str(column))
            if match is None:
                continue
            entry = stats.get(column) if isinstance(stats, dict) else None
            entry = entry if isinstance(entry, dict) else None
            pk = entry.get("item_pk") if entry is not None else None
            version = versions.get(pk) if isinstance(pk, int) else int(match[1]) if match[1] else None
            out.append(CalibrationUse(run_id=run.id, name=run.name, window=window.code,
                                      academic_year=window.academic_year, status=str(run.status),
                                      finished_at=run.finished_at, column=str(column),
                                      versioned=match[1] is not None, version=version,
                                      analysis=state, statistics=entry))
    return tuple(out)


def item_detail(session: Session, item_id: str, version: int | None = None) -> ItemDetail:
    """One item (its newest version, or `version`) with its versions, parameters and statistics; NotFound else."""
    records = list(session.scalars(select(ItemRecord).where(ItemRecord.item_id == item_id)))
    if not records:
        raise NotFound(f"no item {item_id!r} in the item bank; see the list at /items")
    by_version = {r.version: r for r in records}
    if version is not None and version not in by_version:
        raise NotFound(f"item {item_id!r} has no version {version}; its versions: "
                       f"{', '.join(str(v) for v in sorted(by_version))}")
    record = by_version[version if version is not None else max(by_version)]
    by_pk = {r.pk: r for r in records}
    return ItemDetail(record=record, item=item_from_record(record), versions=_versions(session, records),
                      parameters=_parameters(session, by_pk), score_stats=_score_stats(session, by_pk),
                      calibrations=_calibrations(session, item_id, {pk: r.version for pk, r in by_pk.items()}))
