"""Design simulation from the CLI and the web (issue 11.5): good and bad design files, the bank's forms, roles,
CSRF, bad input 4xx, the queued path through a real worker, and the audit trail."""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.design_file import DesignFileError, parse_design
from assessment.models import AuditEntry
from tests.assessment.factories import import_bank, make_class, make_form

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "design-example.yaml"


def _small(text: str, students: tuple[int, int] = (400, 450), reps: int = 2) -> str:
    """The example design, smaller (fast tests)."""
    text = re.sub(r"students: 2500, schools: 42", f"students: {students[0]}, schools: 8", text)
    text = re.sub(r"students: 2850, schools: 16", f"students: {students[1]}, schools: 4", text)
    return re.sub(r"replications: 20", f"replications: {reps}", text)


def _login(client, username, password):  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _token(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/research/design").data
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def _bank(db: Session) -> None:
    import_bank(db)
    make_form(db, 5, seed=113)
    make_form(db, 8, seed=113)
    db.commit()


def test_the_example_file_parses() -> None:
    spec = parse_design(EXAMPLE.read_text(encoding="utf-8"), "design-example.yaml")
    assert spec.grades == (5, 8) and len(spec.anchors) == 8 and spec.params.n_items == 36
    assert spec.n_per_grade == {5: 2500, 8: 2850} and spec.grade_means[8] == 0.8 and spec.replications == 20
    assert "gpcm" in spec.params.model


@pytest.mark.parametrize(("edit", "message"), [
    (("sd: 1.0}", "sd: 0}"), r"design\.yaml, line 11: grades\.8\.sd: expected a number in \[0\.01, 10\]; found 0"),
    (("icc: 0.15", "icc: 1.5"), r"line 6: icc: expected a number in \[0, 1\)"),
    (("  - {id: CT-A02, model: 2pl,", "  - {id: CT-A02, model: 4pl,"), r"line 22: items\.1\.model: expected one of"),
    (("anchors: [CT-A01, ", "anchors: ["), r"line 12: anchors: CT-A01 are on forms of several grades"),
    (("    grade: 8\n", "    grade: 9\n"), r"line 18: forms\.1\.grade: grade 9 is not under grades"),
    (("replications: 20", "replications: many"), r"line 4: replications: expected a whole number from 2 to 1000"),
    (("seed: 113", "seed: 113\nseed: 114"), r"line 6: seed: repeated key"),
    (("method: wle", "method: wle\nwhatever: 1"), r"line 9: whatever: unknown key"),
])
def test_bad_files_name_the_file_line_and_field(edit: tuple[str, str], message: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert edit[0] in text
    with pytest.raises(DesignFileError, match=message):
        parse_design(text.replace(edit[0], edit[1], 1), "design.yaml")


def test_cli_runs_a_design_file_with_json_and_the_item_table(run_cli, tmp_path: Path, db: Session) -> None:  # type: ignore[no-untyped-def]
    design = tmp_path / "design.yaml"
    design.write_text(_small(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    result = run_cli("simulate-design", "--design", str(design), "--quiet")
    assert result.exit_code == 0, result.output
    assert "2 replications" in result.output and "school means (theta)" in result.output
    assert "grade 8 - reference grade mean difference" in result.output
    out = tmp_path / "items.csv"
    result = run_cli("simulate-design", "--design", str(design), "--json", "--out", str(out), "--seed", "5")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["replications"] == 2 and data["n_per_grade"] == {"5": 400, "8": 450}
    assert {s["parameter"] for s in data["summary"]} == {"a", "b"} and data["grade_difference"][0]["true"] == 0.8
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "item,parameter,true,mean,bias,sd,rmse" and len(lines) == 1 + len(data["items"])
    db.rollback()
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "design.simulate")).all()
    assert len(entries) == 2 and entries[0].target == str(design)


def test_cli_bad_file_is_one_clear_error_and_nothing_runs(run_cli, tmp_path: Path, db: Session) -> None:  # type: ignore[no-untyped-def]
    design = tmp_path / "bad.yaml"
    design.write_text(EXAMPLE.read_text(encoding="utf-8").replace("students: 2850", "students: -3"), encoding="utf-8")
    result = run_cli("simulate-design", "--design", str(design))
    assert result.exit_code == 1
    assert f"Error: {design}, line 11: grades.8.students: expected a whole number from 2 to 500000; found -3" \
        in result.output
    assert run_cli("simulate-design", "--design", str(tmp_path / "none.yaml")).exit_code == 1
    assert run_cli("simulate-design").exit_code == 2  # neither --design nor --from-bank
    assert run_cli("simulate-design", "--design", str(design), "--out", "x.txt").exit_code == 2
    db.rollback()
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "design.simulate")).all() == []


def test_cli_from_the_bank(run_cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    _bank(db)
    result = run_cli("simulate-design", "--from-bank", "--n-grade5", "500", "--n-grade8", "500", "--schools", "6,3",
                     "--replications", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"] == "bank: G5-S113 v1, G8-S113 v1"
    assert [len(data["school_sizes"][g]) for g in ("5", "8")] == [6, 3]
    unknown = run_cli("simulate-design", "--from-bank", "--parameter-set", "nope", "--replications", "2")
    assert unknown.exit_code == 1 and "no parameter set named 'nope'" in unknown.output


def _users(db: Session) -> None:
    klass = make_class(db, school="es-t01")
    for name, role in (("adm", "admin"), ("res", "researcher"), ("bur", "bureau"), ("teach", "teacher")):
        create_user(db, name, f"{name}-password-1", role, school_source_id="es-t01" if role == "teacher" else None,
                    class_source_ids=[klass.source_id] if role == "teacher" else ())
    db.commit()


def test_admin_and_researcher_only_and_never_cached(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    _users(db)
    assert client.get("/research/design").status_code == 302
    for name in ("bur", "teach"):
        _login(client, name, f"{name}-password-1")
        assert client.get("/research/design").status_code == 403, name
        assert client.post("/research/design", data={}).status_code == 403, name
        client.post("/logout", data={"csrf_token": ""})
        client.delete_cookie("session")
    for name in ("res", "adm"):
        _login(client, name, f"{name}-password-1")
        page = client.get("/research/design?lang=en")
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        assert b"Test design simulation" in page.data
        client.delete_cookie("session")


def test_post_without_csrf_is_refused_and_runs_nothing(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    _users(db)
    _bank(db)
    _login(client, "res", "res-password-1")
    response = client.post("/research/design", data={"source": "bank", "n5": "300", "n8": "300", "schools5": "3",
                                                     "schools8": "3", "icc": "0.1", "replications": "2", "seed": "1"})
    assert response.status_code == 400
    db.rollback()
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "design.simulate")).all() == []


def test_short_bank_design_runs_in_the_request(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    _users(db)
    _bank(db)
    _login(client, "res", "res-password-1")
    data = {"csrf_token": _token(client), "source": "bank", "n5": "300", "n8": "300", "schools5": "4",
            "schools8": "2", "icc": "0.1", "replications": "2", "seed": "3"}
    response = client.post("/research/design?lang=en", data=data)
    assert response.status_code == 200, response.data[:2000]
    html = response.data.decode()
    assert "Simulation report" in html and "<svg" in html and "chart-scatter" in html
    assert "Precision of school means" in html and "Grade 8 minus reference grade" in html
    assert response.headers["Cache-Control"] == "no-store"
    db.rollback()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "design.simulate")).one()
    assert entry.actor == "res" and entry.target.startswith("bank: G5-S113 v1")


@pytest.mark.parametrize(("change", "status", "text"), [
    ({"n5": "abc"}, 400, "Grade 5 students: enter a whole number from 2 to 500000"),
    ({"schools8": "5000"}, 400, "Grade 8 schools: enter a whole number from 1 to 300"),
    ({"icc": "1.2"}, 400, "ICC: enter a number from 0 to 0.99"),
    ({"replications": "100000"}, 400, "Replications: enter a whole number from 2 to 200"),
    ({"parameter_set": "nope"}, 404, "no parameter set named &#39;nope&#39;"),
    ({"source": "file"}, 400, "Choose a design file"),
])
def test_bad_input_is_a_4xx_with_the_form_and_the_reason(client, db: Session, change: dict[str, str], status: int,  # type: ignore[no-untyped-def]
                                                         text: str) -> None:
    _users(db)
    _bank(db)
    _login(client, "res", "res-password-1")
    data = {"csrf_token": _token(client), "source": "bank", "n5": "300", "n8": "300", "schools5": "4",
            "schools8": "2", "icc": "0.1", "replications": "2", "seed": "3"} | change
    response = client.post("/research/design?lang=en", data=data)
    assert response.status_code == status
    assert text in response.data.decode()
    db.rollback()
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "design.simulate")).all() == []


def test_uploaded_bad_file_names_its_line(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    import io

    _users(db)
    _login(client, "res", "res-password-1")
    bad = EXAMPLE.read_text(encoding="utf-8").replace("icc: 0.15", "icc: two")
    data = {"csrf_token": _token(client), "source": "file", "replications": "2", "seed": "1",
            "design_file": (io.BytesIO(bad.encode()), "mine.yaml")}
    response = client.post("/research/design?lang=en", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "mine.yaml, line 6: icc: expected a number in [0, 1); found &#39;two&#39;" in response.data.decode()


def test_long_design_is_queued_and_a_worker_finishes_it(client, db: Session, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Above INLINE_SECONDS the page queues the job; with no worker: 503; with one: progress, then the report."""
    import io

    from assessment import design_runs
    from assessment.jobs import run_worker

    monkeypatch.setenv("CTCENSUS_REDIS_PREFIX", f"ctctest:{uuid.uuid4().hex[:8]}:")
    monkeypatch.setattr(design_runs, "INLINE_SECONDS", 0.0)
    monkeypatch.setattr("webapp.views.research_design.INLINE_SECONDS", 0.0)
    _users(db)
    _login(client, "res", "res-password-1")
    upload = _small(EXAMPLE.read_text(encoding="utf-8"), students=(300, 300))

    def post():  # type: ignore[no-untyped-def]
        data = {"csrf_token": _token(client), "source": "file", "replications": "2", "seed": "1",
                "design_file": (io.BytesIO(upload.encode()), "small.yaml")}
        return client.post("/research/design?lang=en", data=data, content_type="multipart/form-data")

    assert post().status_code == 503  # nobody would take the job
    settings = app.extensions["ctcensus"].settings
    monkeypatch.setattr("webapp.views.research_design.workers_listening", lambda s: 1)
    response = post()
    assert response.status_code == 303
    job_url = response.headers["Location"]
    waiting = client.get(job_url + "?lang=en")
    assert waiting.status_code == 200 and "queued" in waiting.data.decode()
    assert 'http-equiv="refresh"' in waiting.data.decode()
    run_worker(settings, burst=True)
    done = client.get(job_url + "?lang=en")
    html = done.data.decode()
    assert done.status_code == 200 and "Simulation report" in html and "chart-scatter" in html
    assert 'http-equiv="refresh"' not in html and done.headers["Cache-Control"] == "no-store"
    assert client.get("/research/design/jobs/not-a-job").status_code == 404
    db.rollback()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "design.simulate")).one()
    assert entry.target == "small.yaml" and job_url.endswith(entry.detail["job"])
