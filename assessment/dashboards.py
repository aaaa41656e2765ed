"""What each results page shows: city, district, school, class and one student, read from a stored run.

A page is built from the run's stored rows only (aggregates, item statistics,
student scores, the summary); nothing is re-estimated per request. Every
builder checks the reader's Scope first and filters its queries by it:
bureau and admin read everything; researchers read the city and district
pages with pseudonyms for schools (and no page that names a class or a
child); a school admin reads their school, its classes and students; a
teacher reads their own classes and students. Each section of a page is
also a table (`Page.tables`), so the CSV/XLSX of a page is exactly what it
shows.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from .access import Scope, pseudonym
from .census_scoring import DIMENSIONS
from .errors import Forbidden, NotFound
from .item_store import item_from_record
from .models import (
    District,
    ItemRecord,
    ResultAggregate,
    ResultItemStat,
    School,
    SchoolClass,
    ScoreRun,
    Student,
    StudentScore,
    TestWindow,
)
from .reporting_config import ReportingConfig
from .results_export import ResultTable

__all__ = ["Group", "ItemRow", "Page", "StudentRow", "TrendPoint", "city_page", "class_page", "district_page",
           "school_page", "student_report"]

Z95 = 1.959964
# a dimension counts as a strength or a weakness only when it differs from the student's other dimensions by
# more than chance would make: two-sided 5% with Bonferroni over four dimensions (z = 2.50), binomial SE of
# the points the form offered (under pure noise, 4 x 5 points, about 4% of students get a mark) ...
PROFILE_Z = 2.50
# ... and rests on at least this many points
PROFILE_MIN_POINTS = 3


@dataclass(frozen=True)
class Group:
    """One stored aggregate row named for a page: a unit (city, district, school, class) x grade x subgroup."""

    level: str
    key: str  # roster sourcedId ("city" for the city); a pseudonym for researchers
    name: str  # the unit's name in the page's language ("" for the city); a pseudonym for researchers
    grade: int
    subgroup: str
    suppressed: bool
    suppression: str = ""  # "small" (under the minimum size) | "complementary" (would reveal a small group)
    n: int | None = None
    mean: float | None = None
    se: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    percents: dict[str, float | None] = field(default_factory=dict)
    dimensions: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemRow:
    """One item's percent of the maximum score in the page's unit against the city (same grade)."""

    item_id: str
    item_pk: int
    grade: int
    title: str
    dimension: str
    anchor: bool
    view: dict[str, Any] | None  # the item as students see it (`Item.student_view`); None for secure anchors
    suppressed: bool
    n: int | None
    pct: float | None
    city_pct: float | None
    omitted_pct: float | None

    @property
    def difference(self) -> float | None:
        return None if self.pct is None or self.city_pct is None else round(self.pct - self.city_pct, 1)


@dataclass(frozen=True)
class StudentRow:
    """One student of a class: scale score with its 95% band, level and dimension profile."""

    key: str
    name: str
    seat: int | None
    grade: int
    scale_score: float
    scale_se: float
    level: str
    dimensions: dict[str, float | None]
    strength: str | None  # a dimension well above the student's others, if any
    weakness: str | None
    floor: float = float("-inf")  # the lowest and highest score a page reports (the scale's mean -/+ 4 SD)
    ceiling: float = float("inf")

    def _clip(self, x: float) -> float:
        return round(min(max(x, self.floor), self.ceiling), 1)

    @property
    def score(self) -> float:
        """The scale score as reported: all-wrong and all-right patterns sit at the floor or the ceiling."""
        return self._clip(self.scale_score)

    @property
    def low(self) -> float:
        return self._clip(self.scale_score - Z95 * self.scale_se)

    @property
    def high(self) -> float:
        return self._clip(self.scale_score + Z95 * self.scale_se)


@dataclass(frozen=True)
class TrendPoint:
    """The city mean of one grade in one window's current run."""

    window: str
    year: int
    grade: int
    n: int | None
    mean: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass
class Page:
    """A results page: what it is about, its sections of groups, items, students and the facts of its run."""

    kind: str  # city | district | school | class | student
    window_code: str
    window_name: str
    run_id: int
    key: str
    name: str
    level_codes: tuple[str, ...]
    cuts: tuple[float, ...]
    grades: list[int]
    sections: dict[str, list[Group]] = field(default_factory=dict)
    items: list[ItemRow] = field(default_factory=list)
    students: list[StudentRow] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    distribution: dict[str, Any] = field(default_factory=dict)  # {"edges": [...], label: {grade: [percent]}}
    facts: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)  # e.g. {"school": key, "school_name": name}
    linkable: bool = True  # False for pseudonymous readers: no links to pages that name schools

    def tables(self) -> dict[str, ResultTable]:
        """Every section as a table (the page's CSV/XLSX downloads), keyed by section name."""
        out = {name: _group_table(groups, self.level_codes) for name, groups in self.sections.items()}
        if self.items:
            out["items"] = ResultTable(
                ("grade", "item", "title", "dimension", "anchor", "n", "pct", "city_pct", "difference",
                 "omitted_pct", "suppressed"),
                [[i.grade, i.item_id, i.title, i.dimension, i.anchor, i.n, i.pct, i.city_pct, i.difference,
                  i.omitted_pct, i.suppressed] for i in self.items])
        if self.students:
            out["students"] = ResultTable(
                ("student", "seat", "name", "grade", "scale_score", "scale_se", "band_low", "band_high", "level",
                 *DIMENSIONS, "strength", "weakness"),
                [[s.key, s.seat, s.name, s.grade, s.score, s.scale_se, s.low, s.high, s.level,
                  *[s.dimensions.get(d) for d in DIMENSIONS], s.strength, s.weakness] for s in self.students])
        if self.trend:
            out["trend"] = ResultTable(("window", "year", "grade", "n", "mean", "ci_low", "ci_high"),
                                       [[t.window, t.year, t.grade, t.n, t.mean, t.ci_low, t.ci_high]
                                        for t in self.trend])
        if self.distribution:
            edges = self.distribution["edges"]
            series = [(label, grade, pcts) for label, by_grade in self.distribution.items() if label != "edges"
                      for grade, pcts in sorted(by_grade.items())]
            out["distribution"] = ResultTable(
                ("score_from", "score_to", *[f"{label}_grade{grade}" for label, grade, _ in series]),
                [[edges[b], edges[b + 1], *[pcts[b] for _, _, pcts in series]] for b in range(len(edges) - 1)])
        return out


def _group_table(groups: Sequence[Group], codes: Sequence[str]) -> ResultTable:
    columns = ("level", "unit", "name", "grade", "subgroup", "n", "mean", "se", "ci_low", "ci_high", "sd",
               *[f"pct_{c}" for c in codes], *DIMENSIONS, "suppressed")
    return ResultTable(columns, [[g.level, g.key, g.name, g.grade, g.subgroup, g.n, g.mean, g.se, g.ci_low, g.ci_high,
                                  g.sd, *[g.percents.get(c) for c in codes], *[g.dimensions.get(d) for d in DIMENSIONS],
                                  g.suppressed] for g in groups])


# --- reading stored rows ------------------------------------------------------------------------------------------

def _name(row: Any, lang: str) -> str:
    return str((row.name_en if lang == "en" and row.name_en else row.name_zh) if hasattr(row, "name_zh") else row.name)


def _groups(session: Session, run: ScoreRun, names: dict[tuple[str, str], str], *conditions: Any) -> list[Group]:
    q = select(ResultAggregate).where(ResultAggregate.run_id == run.id, *conditions)
    out = []
    for a in session.scalars(q.order_by(ResultAggregate.grade, ResultAggregate.level, ResultAggregate.unit,
                                        ResultAggregate.subgroup)):
        pct = {code: (v[0] if v else None) for code, v in (a.percents or {}).items()}
        out.append(Group(level=a.level, key=a.unit, name=names.get((a.level, a.unit), ""), grade=a.grade,
                         subgroup=a.subgroup, suppressed=a.suppressed, suppression=a.suppression, n=a.n,
                         mean=a.mean, se=a.se, sd=a.sd,
                         ci_low=a.ci_low, ci_high=a.ci_high, percents=pct, dimensions=dict(a.dimensions or {})))
    return out


def _unit_names(session: Session, lang: str, *, districts: bool = True, schools: Any = None,
                classes: Any = None) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    if districts:
        for d in session.execute(select(District.source_id, District.name_zh, District.name_en)):
            names[("district", d.source_id)] = _name(d, lang)
    if schools is not None:
        for s in session.execute(select(School.source_id, School.name_zh, School.name_en).where(schools)):
            names[("school", s.source_id)] = _name(s, lang)
    if classes is not None:
        for c in session.execute(select(SchoolClass.source_id, SchoolClass.name).where(classes)):
            names[("class", c.source_id)] = c.name
    return names


def _base(run: ScoreRun, kind: str, key: str, name: str) -> Page:
    window = run.window
    levels = run.settings["reporting"]["levels"]
    grades = sorted({int(g) for g in run.summary.get("distribution", {}).get("city", {})}
                    or {int(g) for g in run.summary.get("between_school_share", {})})
    return Page(kind=kind, window_code=window.code, window_name=window.name, run_id=run.id, key=key, name=name,
                level_codes=tuple(lv["code"] for lv in levels),
                cuts=tuple(float(lv["min"]) for lv in levels[1:] if lv.get("min") is not None), grades=grades)


def _city(session: Session, run: ScoreRun) -> list[Group]:
    return _groups(session, run, {}, ResultAggregate.level == "city", ResultAggregate.subgroup == "all")


def _trend(session: Session, run: ScoreRun) -> list[TrendPoint]:
    """The city means of the windows up to this run's, each from its current run on the same reporting scale."""
    scale = run.settings["reporting"]["scale"]
    rows = session.execute(
        select(TestWindow.code, TestWindow.academic_year, ScoreRun.settings, ResultAggregate.grade, ResultAggregate.n,
               ResultAggregate.mean, ResultAggregate.ci_low, ResultAggregate.ci_high)
        .join(ScoreRun, ScoreRun.window_id == TestWindow.id)
        .join(ResultAggregate, ResultAggregate.run_id == ScoreRun.id)
        .where(or_(ScoreRun.id == run.id, and_(ScoreRun.current.is_(True), ScoreRun.window_id != run.window_id)),
               ResultAggregate.level == "city", ResultAggregate.subgroup == "all",
               TestWindow.academic_year <= run.window.academic_year)
        .order_by(TestWindow.academic_year, TestWindow.code, ResultAggregate.grade))
    return [TrendPoint(window=r.code, year=r.academic_year, grade=r.grade, n=r.n, mean=r.mean, ci_low=r.ci_low,
                       ci_high=r.ci_high) for r in rows if _same_scale(r.settings["reporting"]["scale"], scale)]


def _same_scale(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("mean", "sd", "base_year", "base_grade"))


def _pseudonymise(groups: list[Group], scope: Scope, secret_key: str) -> list[Group]:
    if not scope.pseudonymous:
        return groups
    out = []
    for g in groups:
        if g.level in ("school", "class"):
            code = pseudonym(secret_key, g.level, g.key)
            g = Group(**{**g.__dict__, "key": code, "name": code})
        out.append(g)
    return out


def _items(session: Session, run: ScoreRun, level: str, unit: str, lang: str, *, include_view: bool) -> list[ItemRow]:
    stats = session.execute(
        select(ResultItemStat).where(ResultItemStat.run_id == run.id,
                                     or_(and_(ResultItemStat.level == level, ResultItemStat.unit == unit),
                                         ResultItemStat.level == "city"))).scalars().all()
    city = {(s.grade, s.item_id): s.pct for s in stats if s.level == "city"}
    mine = [s for s in stats if s.level == level]
    records = {r.pk: r for r in session.scalars(select(ItemRecord).where(ItemRecord.pk.in_({s.item_pk for s in mine})))}
    out = []
    views: dict[int, dict[str, Any]] = {}
    for s in mine:
        record = records[s.item_pk]
        title = _text(record.content.get("title"), lang)
        if include_view and not record.anchor and s.item_pk not in views:
            views[s.item_pk] = item_from_record(record).student_view(lang)
        out.append(ItemRow(item_id=s.item_id, item_pk=s.item_pk, grade=s.grade, title=title,
                           dimension=record.dimension, anchor=record.anchor, view=views.get(s.item_pk),
                           suppressed=s.suppressed,
                           n=s.n, pct=s.pct, city_pct=city.get((s.grade, s.item_id)), omitted_pct=s.omitted_pct))
    # what to reteach first: the items furthest below the city, then the lowest
    out.sort(key=lambda i: (i.grade, i.suppressed, i.difference if i.difference is not None else 0.0,
                            i.pct if i.pct is not None else 0.0, i.item_id))
    return out


def _text(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get("en") if lang == "en" and value.get("en") else value.get("zh-TW", ""))
    return "" if value is None else str(value)


# --- pages --------------------------------------------------------------------------------------------------------

def city_page(session: Session, run: ScoreRun, scope: Scope, *, lang: str, secret_key: str) -> Page:
    """The bureau's page: distributions, levels, districts, schools against the city band, grades, trend."""
    if not scope.sees_all:
        raise Forbidden("the city dashboard is for the bureau; open your school's or your classes' page instead")
    page = _base(run, "city", "city", "")
    names = _unit_names(session, lang, schools=True)
    page.sections["city"] = _city(session, run)
    page.sections["districts"] = _groups(session, run, names, ResultAggregate.level == "district",
                                         ResultAggregate.subgroup == "all")
    page.sections["schools"] = _pseudonymise(_groups(session, run, names, ResultAggregate.level == "school",
                                                     ResultAggregate.subgroup == "all"), scope, secret_key)
    page.sections["subgroups"] = _groups(session, run, {}, ResultAggregate.level == "city",
                                         ResultAggregate.subgroup != "all")
    page.trend = _trend(session, run)
    dist = run.summary.get("distribution")
    if dist:
        page.distribution = {"edges": dist["edges"], "city": dist["city"]}
    page.facts = {"grade_gap": run.summary.get("grade_gap_8_minus_5"),
                  "between_school_share": run.summary.get("between_school_share", {}),
                  "students": run.summary.get("students_scored")}
    page.linkable = not scope.pseudonymous
    return page


def district_page(session: Session, run: ScoreRun, scope: Scope, district_key: str, *, lang: str,
                  secret_key: str) -> Page:
    """One district against the city: its schools with intervals and levels, its distribution."""
    if not scope.sees_all:
        raise Forbidden("district pages are for the bureau; open your school's or your classes' page instead")
    district = session.scalar(select(District).where(District.source_id == district_key))
    if district is None:
        _missing(scope, f"no district {district_key!r}")
    page = _base(run, "district", district.source_id, _name(district, lang))
    names = _unit_names(session, lang, schools=School.district_id == district.id)
    page.sections["district"] = _groups(session, run, names, ResultAggregate.level == "district",
                                        ResultAggregate.unit == district.source_id, ResultAggregate.subgroup == "all")
    page.sections["city"] = _city(session, run)
    page.sections["schools"] = _pseudonymise(
        _groups(session, run, names, ResultAggregate.level == "school", ResultAggregate.district_id == district.id,
                ResultAggregate.subgroup == "all"), scope, secret_key)
    page.sections["gender"] = _groups(session, run, names, ResultAggregate.level == "district",
                                      ResultAggregate.unit == district.source_id, ResultAggregate.subgroup != "all")
    dist = run.summary.get("distribution")
    if dist:
        page.distribution = {"edges": dist["edges"], "district": dist["district"].get(district.source_id, {}),
                             "city": dist["city"]}
    page.linkable = not scope.pseudonymous
    return page


def _missing(scope: Scope, message: str) -> NoReturn:
    """NotFound for readers of everything; Forbidden for scoped readers, so ids outside their scope
    answer the same whether they exist or not."""
    if scope.sees_all:
        raise NotFound(message)
    raise Forbidden("you can only see results of your own school or classes")


def _identifying(scope: Scope) -> None:
    if scope.pseudonymous:
        raise Forbidden("this page names schools, classes or students; researchers use the pseudonymous exports "
                        "and the city and district pages")


def school_page(session: Session, run: ScoreRun, scope: Scope, school_key: str, *, lang: str) -> Page:
    """One school against its district and the city: by grade and class, dimension profile, items to reteach."""
    _identifying(scope)
    school = session.scalar(select(School).where(School.source_id == school_key))
    if school is None:
        _missing(scope, f"no school {school_key!r}")
    scope.check_school(school.id)
    page = _base(run, "school", school.source_id, _name(school, lang))
    district = session.get(District, school.district_id)
    assert district is not None
    page.parent = {"district": district.source_id, "district_name": _name(district, lang)}
    names = _unit_names(session, lang, schools=School.id == school.id, classes=SchoolClass.school_id == school.id)
    page.sections["school"] = (
        _groups(session, run, names, ResultAggregate.level == "school", ResultAggregate.unit == school.source_id,
                ResultAggregate.subgroup == "all")
        + _groups(session, run, names, ResultAggregate.level == "district", ResultAggregate.unit == district.source_id,
                  ResultAggregate.subgroup == "all")
        + _city(session, run))
    page.sections["classes"] = _groups(session, run, names, ResultAggregate.level == "class",
                                       ResultAggregate.school_id == school.id, ResultAggregate.subgroup == "all")
    page.sections["gender"] = _groups(session, run, names, ResultAggregate.level == "school",
                                      ResultAggregate.unit == school.source_id, ResultAggregate.subgroup != "all")
    page.items = _items(session, run, "school", school.source_id, lang, include_view=True)
    page.grades = sorted({g.grade for g in page.sections["school"] if g.level == "school"})
    page.sections["school"] = [g for g in page.sections["school"] if g.grade in page.grades]
    return page


def _profile(known: dict[str, float], points: dict[str, float]) -> tuple[str | None, str | None]:
    """The dimension clearly above (and the one clearly below) the student's other dimensions, if any.

    A dimension rests on a few items, so a difference counts only when it is larger than PROFILE_Z standard
    errors of the difference of two proportions (the dimension's points against the others' points).
    """
    usable = {d: v / 100.0 for d, v in known.items() if points.get(d, 0) >= PROFILE_MIN_POINTS}
    if len(usable) < 2:
        return None, None
    z: dict[str, float] = {}
    for d, p in usable.items():
        m_d = points[d]
        m_r = sum(points[k] for k in usable if k != d)
        p_r = sum(usable[k] * points[k] for k in usable if k != d) / m_r
        pooled = (p * m_d + p_r * m_r) / (m_d + m_r)
        se = (pooled * (1 - pooled) * (1 / m_d + 1 / m_r)) ** 0.5
        if se > 0:
            z[d] = (p - p_r) / se
    hi = max(z, key=z.__getitem__, default=None)
    lo = min(z, key=z.__getitem__, default=None)
    return (hi if hi is not None and z[hi] >= PROFILE_Z else None,
            lo if lo is not None and z[lo] <= -PROFILE_Z else None)


def _dimension_points(session: Session, run: ScoreRun, class_id: int) -> dict[str, float]:
    """Points per dimension on the items the class's students were given (from the run's item statistics)."""
    rows = session.execute(
        select(ItemRecord.dimension, ItemRecord.max_score)
        .join(ResultItemStat, ResultItemStat.item_pk == ItemRecord.pk)
        .where(ResultItemStat.run_id == run.id, ResultItemStat.level == "class", ResultItemStat.class_id == class_id))
    points: dict[str, float] = {}
    for dimension, max_score in rows:
        points[dimension] = points.get(dimension, 0.0) + float(max_score)
    return points


def _student_rows(session: Session, run: ScoreRun, lang: str, points: dict[str, float],
                  *conditions: Any) -> list[StudentRow]:
    scale = run.settings["reporting"]["scale"]
    floor, ceiling = (float(scale["mean"]) + k * 4 * float(scale["sd"]) for k in (-1, 1))
    q = (select(StudentScore, Student.source_id, Student.family_name, Student.given_name, Student.seat_number)
         .join(Student, StudentScore.student_id == Student.id)
         .where(StudentScore.run_id == run.id, *conditions)
         .order_by(StudentScore.grade, Student.seat_number, Student.source_id))
    out = []
    for s, key, family, given, seat in session.execute(q):
        dims = {d: s.dimensions.get(d) for d in DIMENSIONS}
        strength, weakness = _profile({d: v for d, v in dims.items() if v is not None}, points)
        name = f"{given} {family}" if lang == "en" and family.isascii() else f"{family}{given}"
        out.append(StudentRow(key=key, name=name, seat=seat, grade=s.grade, scale_score=s.scale_score,
                              scale_se=s.scale_se, level=s.level, dimensions=dims, strength=strength,
                              weakness=weakness, floor=floor, ceiling=ceiling))
    return out


def class_page(session: Session, run: ScoreRun, scope: Scope, class_key: str, *, lang: str) -> Page:
    """A class for its teacher: each student's level and strengths, and the items the class missed most."""
    _identifying(scope)
    klass = session.scalar(select(SchoolClass).where(SchoolClass.source_id == class_key))
    if klass is None:
        _missing(scope, f"no class {class_key!r}")
    scope.check_class(klass.id, klass.school_id)
    school = session.get(School, klass.school_id)
    assert school is not None
    page = _base(run, "class", klass.source_id, klass.name)
    page.grades = [klass.grade]
    page.parent = {"school": school.source_id, "school_name": _name(school, lang)}
    names = _unit_names(session, lang, districts=False, schools=School.id == school.id,
                        classes=SchoolClass.id == klass.id)
    page.sections["class"] = [
        g for g in (_groups(session, run, names, ResultAggregate.level == "class", ResultAggregate.unit == klass.source_id,
                            ResultAggregate.subgroup == "all")
                    + (_groups(session, run, names, ResultAggregate.level == "school",
                               ResultAggregate.unit == school.source_id, ResultAggregate.subgroup == "all")
                       if scope.role != "teacher" else [])  # a teacher reads classes, not whole schools
                    + _city(session, run))
        if g.grade == klass.grade]
    page.students = _student_rows(session, run, lang, _dimension_points(session, run, klass.id),
                                  StudentScore.class_id == klass.id)
    page.items = _items(session, run, "class", klass.source_id, lang, include_view=True)
    return page


def student_report(session: Session, run: ScoreRun, scope: Scope, student_key: str, *, lang: str,
                   config: ReportingConfig) -> Page:
    """One student's page for parents: scale score with its band, level and what it means, dimension profile.

    Access follows the class and school the student sat the test in (the run's record), not today's roster.
    """
    _identifying(scope)
    score = session.execute(select(StudentScore.class_id, StudentScore.school_id)
                            .join(Student, StudentScore.student_id == Student.id)
                            .where(StudentScore.run_id == run.id, Student.source_id == student_key)).first()
    if score is None:
        _missing(scope, f"no scored student {student_key!r} in run {run.id} (absent, or no scored answer)")
    scope.check_class(score.class_id, score.school_id)
    rows = _student_rows(session, run, lang, _dimension_points(session, run, score.class_id),
                         Student.source_id == student_key)
    klass, school = session.get(SchoolClass, score.class_id), session.get(School, score.school_id)
    assert klass is not None and school is not None
    page = _base(run, "student", student_key, rows[0].name)
    page.students = rows
    page.grades = [rows[0].grade]
    page.parent = {"class": klass.source_id, "class_name": klass.name, "school": school.source_id,
                   "school_name": _name(school, lang)}
    page.sections["city"] = [g for g in _city(session, run) if g.grade == rows[0].grade]
    # the run's own levels and cuts (what the student was placed by); today's texts describe them
    texts = {lv.code: lv.describe for lv in config.levels}
    page.facts = {"levels": [{"code": lv["code"], "label": lv["label"].get(lang) or lv["label"]["zh-TW"],
                              "describe": texts.get(lv["code"], {}).get(lang) or texts.get(lv["code"], {}).get("zh-TW", ""),
                              "min": lv.get("min")}
                             for lv in run.settings["reporting"]["levels"]],
                  "dimensions": {d: (config.dimensions.get(d, {}).get(lang) or config.dimensions.get(d, {}).get("zh-TW")
                                     or d) for d in DIMENSIONS}}
    return page
