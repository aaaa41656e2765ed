"""`ctcensus responses export`: the CSV calibrates by the CLI exactly as the app's matrix does; QTI 3.0 results;
pseudonyms; audit; bad input changes nothing and writes nothing."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.access import pseudonym
from assessment.census_simulation import simulate_census
from assessment.errors import InvalidInput, NotFound
from assessment.forms import form_items
from assessment.models import AuditEntry, Student
from assessment.response_matrix import load_response_matrix
from assessment.responses_export import select_responses, write_responses_csv
from assessment.responses_import import import_responses
from assessment.windows import get_window
from item_bank.qti_results import RESULT_NS
from scoring import calibrate
from scoring.csvio import read_params_csv

from .factories import import_bank, make_class, make_form, make_window

SECRET = "test-secret-key-0123456789"  # the cli_env / app_config key
Q = f"{{{RESULT_NS}}}"


def _census(db: Session, tmp_path: Path) -> dict[int, int]:
    """Grades 5 and 8 sit the test online (omits, unfinished, timeouts); one more grade-5 class on paper."""
    import_bank(db)
    make_window(db, "113")
    forms = {5: make_form(db, 5, seed=113), 8: make_form(db, 8, seed=113)}
    for grade, school in ((5, "es-a"), (5, "es-b"), (5, "es-c"), (8, "jh-a"), (8, "jh-b"), (8, "jh-c")):
        make_class(db, grade=grade, n_students=60, school=school)
    paper = make_class(db, grade=5, n_students=20, school="es-paper")
    for k, student in enumerate(db.scalars(select(Student).order_by(Student.id))):
        student.gender = ("female", "male", "=cmd|1")[k % 3] if k < 60 else ("female", "male")[k % 2]
    db.commit()
    simulate_census(db, "113", seed=5, actor="test")  # paper's class sits too; its paper attempts replace them
    db.commit()
    layout = form_items(db, forms[5])[:6]
    rows = [["student", *[item.id for _, _, item in layout]]]
    rng = np.random.default_rng(3)
    for seat in range(1, 21):
        rows.append([f"{paper.source_id}-{seat:02d}",
                     *[str(int(rng.integers(0, item.max_score + 1))) if (seat + j) % 4 else ""
                       for j, (_, _, item) in enumerate(layout)]])
    path = tmp_path / "paper.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    import_responses(db, path, window_code="113", form_id=forms[5].id, replace=True, actor="test")
    db.commit()
    return {g: f.id for g, f in forms.items()}


def test_exported_csv_calibrated_by_the_cli_gives_the_apps_calibration(db: Session, tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                       cli_env) -> None:
    cli_env["SECRET_KEY"] = SECRET
    _census(db, tmp_path)
    out = tmp_path / "responses.csv"
    result = run_cli("responses", "export", "--window", "113", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "ctcensus calibrate" in result.output
    params = tmp_path / "params.csv"
    result = run_cli("calibrate", str(out), "--model", "auto", "--group-column", "grade", "--skip-column", "school",
                     "--skip-column", "gender", "--out", str(params), "--quiet")
    assert result.exit_code == 0, result.output
    cli = read_params_csv(params)

    # the app's side: the window's response matrix (calibration coding), every item someone has a score for
    matrix = load_response_matrix(db, get_window(db, "113"))
    x = matrix.for_calibration()
    keep = ~np.isnan(x).all(axis=0)
    ref = calibrate(x[:, keep], "auto", groups=matrix.grades,
                    item_names=[n for n, k in zip(matrix.item_ids, keep, strict=True) if k])
    assert cli.item_names == ref.params.item_names
    assert cli.model == ref.params.model and set(cli.model) == {"2pl", "gpcm"}
    np.testing.assert_allclose(cli.a, ref.params.a, rtol=0, atol=2e-6)  # the CSV keeps 6 decimals
    np.testing.assert_allclose(cli.d, ref.params.d, rtol=0, atol=2e-6)
    groups = (tmp_path / "params.groups.csv").read_text().splitlines()
    assert groups[1].startswith("5,") and groups[2].startswith(f"8,{ref.group_means[1]:.6f}")

    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == matrix.n_students == len({r["student"] for r in rows})
    assert rows[0]["student"] == pseudonym(SECRET, "student", matrix.student_keys[0])  # the results exports' scheme
    assert {r["school"] for r in rows} == {pseudonym(SECRET, "school", s) for s in
                                           ("es-a", "es-b", "es-c", "jh-a", "jh-b", "jh-c", "es-paper")}
    assert not any("es-" in v or "jh-" in v for r in rows for v in r.values())  # no roster id anywhere
    assert {r["gender"] for r in rows} >= {"female", "male", "'=cmd|1"}  # never a spreadsheet formula (gender is 8 characters at most)
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "responses.export")).one()
    assert audit.actor.startswith("cli:") and audit.detail["rows"] == len(rows) and audit.detail["format"] == "csv"


def test_grade_and_form_selections_and_not_reached_coding(db: Session, tmp_path: Path) -> None:
    forms = _census(db, tmp_path)
    g8 = select_responses(db, "113", secret_key=SECRET, grade=8)
    assert set(g8.grades.tolist()) == {8} and g8.n_rows > 150
    assert set(g8.form_ids.tolist()) == {forms[8]}
    assert not np.isnan(g8.scores).all(axis=0).any()  # grade-5-only items are left out
    f5 = select_responses(db, "113", secret_key=SECRET, form_id=forms[5], grade=5)
    assert set(f5.grades.tolist()) == {5} and f5.imported.sum() == 20
    missing, zero = io.StringIO(), io.StringIO()
    write_responses_csv(f5, missing)
    write_responses_csv(f5, zero, not_reached="zero")
    assert missing.getvalue().count(",,") > zero.getvalue().count(",,")  # not reached: empty, or 0
    other = select_responses(db, "113", secret_key="another-key", form_id=forms[5])
    assert set(other.students).isdisjoint(f5.students)  # pseudonyms depend on the server's key
    for kwargs, error in (({"grade": 7}, InvalidInput), ({"form_id": 999}, NotFound),
                          ({"form_id": forms[8], "grade": 5}, InvalidInput)):
        with pytest.raises(error):
            select_responses(db, "113", secret_key=SECRET, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        select_responses(db, "999", secret_key=SECRET)


def test_qti_results_zip_holds_one_assessment_result_per_attempt(db: Session, tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                  cli_env) -> None:
    cli_env["SECRET_KEY"] = SECRET
    forms = _census(db, tmp_path)
    out = tmp_path / "results.zip"
    result = run_cli("responses", "export", "--window", "113", "--grade", "5", "--format", "qti-results",
                     "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    selection = select_responses(db, "113", secret_key=SECRET, grade=5)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert len(names) == selection.n_rows
        docs = {n: ElementTree.fromstring(archive.read(n)) for n in names}
    online = imported = 0
    for name, root in docs.items():
        assert root.tag == f"{Q}assessmentResult"
        assert [c.tag for c in root][:2] == [f"{Q}context", f"{Q}testResult"]
        context = root.find(f"{Q}context")
        sourced = context.get("sourcedId")
        assert name == f"assessmentResult-{sourced}.xml" and sourced in selection.students
        session_id = context.find(f"{Q}sessionIdentifier")
        assert session_id.get("sourceID") == "urn:ctcensus:window:113" and session_id.get("identifier")
        test = root.find(f"{Q}testResult")
        assert test.get("identifier").startswith("G5") and test.get("datestamp")[:4].isdigit()
        context_vars = {v.get("identifier"): v.find(f"{Q}value").text for v in test.findall(f"{Q}contextVariable")}
        assert context_vars["GRADE"] == "5" and context_vars["SCHOOL"].startswith("S")
        items = root.findall(f"{Q}itemResult")
        assert items and all(i.get("sessionStatus") == "final" and i.get("datestamp") for i in items)
        total = 0.0
        for item in items:
            score = item.find(f"{Q}outcomeVariable[@identifier='SCORE']")
            assert score.get("baseType") == "float" and score.get("cardinality") == "single"
            value = score.find(f"{Q}value")
            total += float(value.text) if value is not None else 0.0
            response = item.find(f"{Q}responseVariable")
            if response is None:
                continue
            assert response.get("identifier") == "RESPONSE" and response.get("cardinality") in (
                "single", "multiple", "ordered")
            given = response.find(f"{Q}candidateResponse")
            assert given is not None
            if given.findall(f"{Q}value"):
                assert response.get("answeredStatus") == "answered"
        assert float(test.find(f"{Q}outcomeVariable[@identifier='SCORE']/{Q}value").text) == total
        if any(i.find(f"{Q}responseVariable") is not None for i in items):
            online += 1
            indexes = [int(i.get("sequenceIndex")) for i in items]
            assert indexes == sorted(indexes)
        else:
            imported += 1
    assert imported == 20 and online == selection.n_rows - 20
    assert forms  # both forms were sat
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "responses.export")).one()
    assert audit.detail["format"] == "qti-results" and audit.detail["grade"] == 5


@pytest.mark.parametrize("args, message", [
    (("--window", "999"), "no test window with code '999'"),
    (("--window", "113", "--grade", "7"), "has no grade 7 sessions"),
    (("--window", "113", "--form", "999"), "no form with id 999"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(db: Session, tmp_path: Path, run_cli, args, message) -> None:  # type: ignore[no-untyped-def]
    _census(db, tmp_path)
    out = tmp_path / "out" / "responses.csv"
    out.parent.mkdir()
    result = run_cli("responses", "export", *args, "--out", str(out), "--quiet")
    assert result.exit_code != 0 and message in result.output, result.output
    assert list(out.parent.iterdir()) == []
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "responses.export")) == 0


def test_unwritable_out_is_refused_before_anything_is_read(db: Session, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    _census(db, tmp_path)
    for out, message in ((tmp_path / "missing" / "r.csv", "does not exist"), (tmp_path, "is a directory")):
        result = run_cli("responses", "export", "--window", "113", "--out", str(out), "--quiet")
        assert result.exit_code != 0 and message in result.output, result.output
    # a folder nobody may create files in (root may write anywhere but in /proc)
    locked = Path("/proc") if Path("/proc/self").is_dir() else tmp_path / "locked"
    if locked != Path("/proc"):  # pragma: no cover - not Linux
        locked.mkdir(mode=0o500)
    result = run_cli("responses", "export", "--window", "113", "--out", str(locked / "r.csv"), "--quiet")
    assert result.exit_code != 0 and "cannot write there" in result.output, result.output
    assert not (locked / "r.csv").exists()
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "responses.export")) == 0
