"""The item-analysis page, its XLSX and `ctcensus analysis` (issue 11.3): roles, both languages, audit, errors."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.calibration_runs import RunRequest, start_run
from assessment.item_analysis_export import SHEETS
from assessment.models import AuditEntry
from tests.assessment.test_item_analysis import DIF, DRIFTED, MISFIT, analysed_census


def _login(client, username, password):  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _logout(client) -> None:  # type: ignore[no-untyped-def]
    client.delete_cookie("session")


@pytest.fixture
def run_id(db: Session) -> int:
    """A done run of the simulated census with its three faults, and one login per role."""
    rid = analysed_census(db)
    for name, role, school in (("adm", "admin", None), ("res", "researcher", None), ("bur", "bureau", None),
                               ("boss", "school_admin", "es-0"), ("teach", "teacher", "es-0")):
        create_user(db, name, f"{name}-password-1", role, school_source_id=school,
                    class_source_ids=["es-0-c1"] if role == "teacher" else ())
    db.commit()
    return rid


def _audits(db: Session) -> int:
    db.rollback()
    n = db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "analysis.export")) or 0
    db.rollback()
    return n


def test_admins_and_researchers_read_it_other_roles_get_403(client, db: Session, run_id: int) -> None:  # type: ignore[no-untyped-def]
    page, xlsx = f"/research/runs/{run_id}/analysis", f"/research/runs/{run_id}/analysis.xlsx"
    assert client.get(page).status_code == 302  # to the login page
    for name in ("teach", "boss", "bur"):
        _login(client, name, f"{name}-password-1")
        assert client.get(page).status_code == 403, name
        assert client.get(xlsx).status_code == 403, name
        _logout(client)
    assert _audits(db) == 0
    for name in ("res", "adm"):
        _login(client, name, f"{name}-password-1")
        response = client.get(page)
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"] == "no-store"
        _logout(client)


def test_the_page_in_both_languages_shows_the_summary_table_flags_and_curves(client, db: Session,  # type: ignore[no-untyped-def]
                                                                             run_id: int) -> None:
    _login(client, "res", "res-password-1")
    zh = client.get(f"/research/runs/{run_id}/analysis").get_data(as_text=True)
    assert f"試題分析：校準 #{run_id}：" in zh and "已收斂" in zh and "AIC / BIC" in zh and "published-113" in zh
    assert "定錨題漂移" in zh and "不適配" in zh and "性別 DIF" in zh
    body = zh[zh.index('<table class="data results analysis sortable">'):]
    rows = re.findall(r'<tr( class="flagged")?>\s*<th scope="row"><a href="#item-\d+-([^"]+)"', body)
    flagged = {item for mark, item in rows if mark}
    assert len(rows) == 36 and {MISFIT, DIF, DRIFTED} == flagged
    assert zh.count("<svg") == 2 * 36 + 1  # each item's two curves and the test information
    assert 'class="chart chart-curves"' in zh and "<desc" in zh
    assert "analysis." not in re.sub(r"<[^>]+>", "", zh)  # no untranslated key
    en = client.get(f"/research/runs/{run_id}/analysis?lang=en").get_data(as_text=True)
    assert f"Item analysis: calibration run #{run_id}: " in en and "anchor drift" in en and "Gender DIF" in en
    assert "Flagging rules" in en and "Benjamini–Hochberg" in en and "試題分析" not in en


def test_the_xlsx_opens_with_every_sheet_and_is_audited(client, db: Session, run_id: int) -> None:  # type: ignore[no-untyped-def]
    _login(client, "res", "res-password-1")
    response = client.get(f"/research/runs/{run_id}/analysis.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert tuple(book.sheetnames) == SHEETS
    items = list(book["items"].iter_rows(values_only=True))
    assert items[0][:3] == ("item", "type", "dimension") and len(items) == 37
    flags = {row[0]: row[1] for row in list(book["flags"].iter_rows(values_only=True))[1:]}
    assert flags[DRIFTED] == "drift" and flags[DIF] == "dif" and MISFIT in flags
    dif = list(book["dif"].iter_rows(values_only=True))
    assert any(r[0] == DIF and r[1] == "gender" and r[-1] == "C" for r in dif[1:])
    assert len(list(book["distractors"].iter_rows())) > 1 and len(list(book["ctt"].iter_rows())) > 36
    summary = dict(list(book["summary"].iter_rows(values_only=True))[1:])
    assert summary["run"] == run_id and summary["previous year's set"] == "published-113"
    assert _audits(db) == 1
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "analysis.export")).one()
    assert entry.actor == "res" and entry.detail["run_id"] == run_id and entry.target.startswith("web:run")
    db.rollback()


def test_a_run_not_done_is_409_and_a_missing_one_404_in_the_readers_language(client, db: Session,  # type: ignore[no-untyped-def]
                                                                              run_id: int) -> None:
    queued = start_run(db, RunRequest(window="114", name="later"), actor="test")
    db.commit()
    _login(client, "res", "res-password-1")
    response = client.get(f"/research/runs/{queued.id}/analysis")
    assert response.status_code == 409 and "排隊中" in response.get_data(as_text=True)
    response = client.get(f"/research/runs/{queued.id}/analysis.xlsx?lang=en")
    assert response.status_code == 409 and f"Calibration run {queued.id} is queued" in response.get_data(as_text=True)
    response = client.get("/research/runs/999/analysis?lang=en")
    assert response.status_code == 404 and "There is no calibration run 999" in response.get_data(as_text=True)
    assert client.get("/research/runs/99999999999/analysis").status_code == 404
    assert _audits(db) == 0


def test_the_cli_writes_the_workbook_prints_json_and_names_a_bad_run(db: Session, run_id: int, run_cli, cli_env,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    cli_env["SECRET_KEY"] = "test-secret-key-0123456789"
    db.rollback()  # SQLite: no transaction may stay open while the CLI writes
    out = tmp_path / "analysis.xlsx"
    result = run_cli("analysis", str(run_id), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"calibration run {run_id} (cal-114), window 114" in result.output and "3 flagged" in result.output
    assert f"  {DRIFTED}: drift (Δb = " in result.output
    assert tuple(load_workbook(out, read_only=True).sheetnames) == SHEETS
    result = run_cli("analysis", str(run_id), "--out", str(tmp_path / "b.xlsx"), "--json")
    data = json.loads(result.output)
    assert set(data) == set(SHEETS) and len(data["items"]) == 36
    assert {r["item"] for r in data["flags"]} == {MISFIT, DIF, DRIFTED}
    assert _audits(db) == 2
    for args, message in ((["77"], "no calibration run 77"), (["0"], "0 is not in the range")):
        result = run_cli("analysis", *args, "--out", str(tmp_path / "x.xlsx"))
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x.xlsx").exists()
    start_run(db, RunRequest(window="114", name="later"), actor="test")
    db.commit()
    result = run_cli("analysis", str(run_id + 1), "--out", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 1 and f"calibration run {run_id + 1} is queued, not done" in result.output
    assert _audits(db) == 2


def test_the_curves_chart_escapes_labels_and_refuses_data_it_cannot_draw() -> None:
    from webapp import charts as ch

    svg = ch.curves([-1.0, 0.0, 1.0], [ch.CurveSeries("<b>P</b>", [0.2, None, 0.8]), ch.CurveSeries("Q", [0.1, 0.5, 0.9])],
                    title="t & u", x_label="θ", y_label="P", y_range=(0.0, 1.0))
    assert "<b>" not in svg and "&lt;b&gt;P&lt;/b&gt;" in svg and "t &amp; u" in svg
    assert svg.count('class="chart-line"') == 1  # the gap leaves the first series single points: no line for it
    assert ch.curves([0.0, 1.0], [ch.CurveSeries("a", [None, None])], title="t", x_label="x", y_label="y",
                     no_data_text="nothing").count("nothing") >= 1
    for xs, ys in (([0.0], [1.0]), ([0.0, float("nan")], [1.0, 2.0]), ([0.0, 1.0], [1.0])):
        with pytest.raises(ch.ChartDataError, match="curves"):
            ch.curves(xs, [ch.CurveSeries("a", ys)], title="t", x_label="x", y_label="y")
