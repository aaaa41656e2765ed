"""Results pages from a stored run: what each role's page holds, what it may not, and its tables."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.access import Scope
from assessment.dashboards import city_page, class_page, district_page, school_page, student_report
from assessment.errors import Forbidden, NotFound
from assessment.models import ResultItemStat, School, SchoolClass, ScoreRun
from assessment.reporting_config import load_reporting_config
from assessment.results import compute_results

from .test_results import SCHOOLS, _simulated_census

SECRET = "test-secret-key-0123456789"
CONFIG = load_reporting_config()


@pytest.fixture
def run(db: Session, tmp_path: Path) -> ScoreRun:
    _simulated_census(db, tmp_path)
    outcome = compute_results(db, "113", CONFIG, min_cell_size=10, actor="test")
    db.commit()
    return outcome.run


def _school_id(db: Session, key: str) -> int:
    return int(db.scalar(select(School.id).where(School.source_id == key)))


def test_city_page_holds_every_district_school_grade_and_the_distribution(db: Session, run: ScoreRun) -> None:
    page = city_page(db, run, Scope.everything(), lang="zh-TW", secret_key=SECRET)
    assert page.grades == [5, 8]
    assert {g.grade for g in page.sections["city"]} == {5, 8}
    schools = {g.key: g for g in page.sections["schools"]}
    assert set(schools) == {s for _, s, _, _ in SCHOOLS}
    assert schools["es-tiny"].suppressed and schools["es-tiny"].mean is None and schools["es-tiny"].n is None
    assert schools["es-tiny"].suppression == "small"
    assert schools["es-a"].name == "es-a學校" and schools["es-a"].n == 60
    assert [(t.window, t.grade) for t in page.trend] == [("113", 5), ("113", 8)]
    assert set(page.distribution["city"]) == {"5", "8"} and len(page.distribution["edges"]) == 29
    tables = page.tables()
    assert {"city", "districts", "schools", "trend", "distribution"} <= set(tables)
    cols = tables["schools"].columns
    tiny = next(r for r in tables["schools"].rows if r[cols.index("unit")] == "es-tiny")
    assert tiny[cols.index("mean")] is None and tiny[cols.index("suppressed")] is True
    assert tables["distribution"].columns[:3] == ("score_from", "score_to", "city_grade5")


def test_researchers_see_pseudonyms_and_no_page_naming_a_school(db: Session, run: ScoreRun) -> None:
    scope = Scope(role="researcher")
    page = city_page(db, run, scope, lang="en", secret_key=SECRET)
    keys = {g.key for g in page.sections["schools"]}
    assert not keys & {s for _, s, _, _ in SCHOOLS} and all(k.startswith("S") for k in keys)
    assert all(g.name == g.key for g in page.sections["schools"]) and not page.linkable
    with pytest.raises(Forbidden):
        school_page(db, run, scope, "es-a", lang="en")
    with pytest.raises(Forbidden):
        class_page(db, run, scope, "es-a-c1", lang="en")


def test_school_admin_reads_their_school_with_classes_and_items_and_nothing_else(db: Session, run: ScoreRun) -> None:
    scope = Scope(role="school_admin", school_id=_school_id(db, "es-b"))
    with pytest.raises(Forbidden):
        city_page(db, run, scope, lang="zh-TW", secret_key=SECRET)
    with pytest.raises(Forbidden):
        district_page(db, run, scope, "kl-test", lang="zh-TW", secret_key=SECRET)
    with pytest.raises(Forbidden):
        school_page(db, run, scope, "es-a", lang="zh-TW")
    page = school_page(db, run, scope, "es-b", lang="zh-TW")
    assert [g.level for g in page.sections["school"]] == ["school", "district", "city"]  # its grade only
    assert [g.key for g in page.sections["classes"]] == ["es-b-c1"]
    stored = db.scalars(select(ResultItemStat).where(ResultItemStat.run_id == run.id, ResultItemStat.level == "school",
                                                     ResultItemStat.unit == "es-b")).all()
    assert len(page.items) == len(stored) > 10
    shown = [i for i in page.items if not i.suppressed]
    assert all(i.city_pct is not None and 0 <= i.pct <= 100 for i in shown)  # type: ignore[operator]
    diffs = [i.difference for i in shown]
    assert diffs == sorted(diffs)  # furthest below the city first
    assert all((i.view is None) == i.anchor for i in page.items) and any(i.view for i in page.items)
    shown = next(i.view for i in page.items if i.view and i.view["type"] == "single_choice")
    assert shown["options"] and "key" not in shown  # as students see it: options, never the key
    with pytest.raises(Forbidden):  # outside their scope, a missing id looks like any other school's
        school_page(db, run, scope, "no-such-school", lang="zh-TW")
    with pytest.raises(NotFound):
        school_page(db, run, Scope.everything(), "no-such-school", lang="zh-TW")


def test_teacher_reads_their_class_students_and_reports_only(db: Session, run: ScoreRun) -> None:
    klass = db.scalar(select(SchoolClass).where(SchoolClass.source_id == "es-a-c1"))
    assert klass is not None
    scope = Scope(role="teacher", school_id=klass.school_id, class_ids=frozenset({klass.id}))
    with pytest.raises(Forbidden):
        school_page(db, run, scope, "es-a", lang="zh-TW")
    with pytest.raises(Forbidden):
        class_page(db, run, scope, "es-b-c1", lang="zh-TW")
    page = class_page(db, run, scope, "es-a-c1", lang="zh-TW")
    assert [g.level for g in page.sections["class"]] == ["class", "city"]  # no whole-school rows for a teacher
    assert len(page.students) == 60 and [s.seat for s in page.students] == list(range(1, 61))
    s = page.students[0]
    assert s.low < s.scale_score < s.high and s.level in CONFIG.level_codes
    assert page.items and {i.grade for i in page.items} == {5}
    assert set(page.tables()) >= {"class", "students", "items"}
    report = student_report(db, run, scope, "es-a-c1-01", lang="zh-TW", config=CONFIG)
    assert report.students[0].key == "es-a-c1-01" and report.name == "王同學1"
    assert [lv["code"] for lv in report.facts["levels"]] == list(CONFIG.level_codes)
    assert report.sections["city"][0].grade == 5
    with pytest.raises(Forbidden):
        student_report(db, run, scope, "es-b-c1-01", lang="zh-TW", config=CONFIG)


def test_the_small_schools_class_and_items_are_suppressed_everywhere(db: Session, run: ScoreRun) -> None:
    page = school_page(db, run, Scope.everything(), "es-tiny", lang="en")
    assert [g.suppressed for g in page.sections["school"] if g.level == "school"] == [True]
    assert all(g.suppressed and g.mean is None for g in page.sections["classes"])
    assert page.items and all(i.suppressed and i.pct is None for i in page.items)
    # the teacher still sees each of their own students
    klass = class_page(db, run, Scope.everything(), "es-tiny-c1", lang="en")
    assert len(klass.students) == 6 and klass.sections["class"][0].suppressed


def test_the_report_follows_the_class_the_student_sat_the_test_in(db: Session, run: ScoreRun) -> None:
    from assessment.models import Student

    student = db.scalar(select(Student).where(Student.source_id == "es-b-c1-01"))
    moved_to = db.scalar(select(SchoolClass).where(SchoolClass.source_id == "es-a-c1"))
    assert student is not None and moved_to is not None
    student.class_id = moved_to.id  # moved after the test
    db.commit()
    new_teacher = Scope(role="teacher", school_id=moved_to.school_id, class_ids=frozenset({moved_to.id}))
    with pytest.raises(Forbidden):
        student_report(db, run, new_teacher, "es-b-c1-01", lang="zh-TW", config=CONFIG)
    old_admin = Scope(role="school_admin", school_id=_school_id(db, "es-b"))
    report = student_report(db, run, old_admin, "es-b-c1-01", lang="zh-TW", config=CONFIG)
    assert report.parent["school"] == "es-b" and report.parent["class"] == "es-b-c1"


def test_strength_marks_are_rare_under_noise_and_given_for_a_clear_gap() -> None:
    import numpy as np

    from assessment.dashboards import _profile

    rng = np.random.default_rng(7)
    points = {"D1": 5.0, "D2": 5.0, "D3": 5.0, "D4": 5.0}
    noise = [{d: 100 * rng.binomial(5, 0.55) / 5 for d in points} for _ in range(3000)]
    rate = np.mean([any(_profile(x, points)) for x in noise])
    assert rate < 0.06, rate  # one ability for every dimension: a mark is a false alarm
    assert _profile({"D1": 100, "D2": 20, "D3": 40, "D4": 20}, points) == ("D1", None)
    assert _profile({"D1": 100, "D2": 20, "D3": 40, "D4": 20}, {"D1": 2.0, "D2": 5, "D3": 5, "D4": 5}) == (None, None)
    assert _profile({"D1": 100, "D2": 20}, {}) == (None, None)  # without the points, no claim


def test_a_band_beyond_the_floor_never_inverts() -> None:
    from assessment.dashboards import StudentRow

    row = StudentRow(key="s", name="n", seat=1, grade=5, scale_score=60.0, scale_se=20.0, level="emerging",
                     dimensions={}, strength=None, weakness=None, floor=100.0, ceiling=900.0)
    assert row.score == row.low == row.high == 100.0
    top = StudentRow(key="s", name="n", seat=1, grade=5, scale_score=950.0, scale_se=300.0, level="advanced",
                     dimensions={}, strength=None, weakness=None, floor=100.0, ceiling=900.0)
    assert (top.low, top.score, top.high) == (362.0, 900.0, 900.0)
