"""A run's stored item statistics on the web (issue 11): the job stores them, the item page shows them across runs in
both languages, the re-run form ticks the flagged items with their reasons, the run page links its report and set;
`ctcensus analysis --store` fills in runs done before."""
from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.calibration_runs import RunRequest, get_run, start_run
from assessment.item_analysis import analyse_run
from assessment.item_analysis_store import STATISTICS_KEY, item_summaries
from assessment.jobs import enqueue_calibration
from assessment.models import AuditEntry, CalibrationRun
from tests.assessment.test_item_analysis import DIF, DRIFTED, MISFIT, SECRET, analysed_census
from tests.webapp.test_cli_calibrate_runs import worker  # noqa: F401  (fixture: a real `ctcensus worker` process)


def _login(client: Any) -> str:
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    response = client.post("/login", data={"username": "res", "password": "res-password-1", "csrf_token": token})
    assert response.status_code == 302
    return token


def _read(db: Session, run_id: int) -> tuple[dict[str, Any], int | None]:
    """The run's result and parameter set id, read in a transaction that ends at once."""
    db.expire_all()
    run = get_run(db, run_id)
    values = dict(run.result or {}), run.parameter_set_id
    db.rollback()  # SQLite: no read transaction may stay open while the app or the worker writes
    return values


def _wait_for(client: Any, run_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = client.get(f"/research/runs/{run_id}/progress.json").get_json()
        if data["finished"] and data["analysis"] != "pending":
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.25)


def _checked(page: str) -> set[str]:
    form = page[page.index('id="rerun-form"'):]
    form = form[:form.index("</form>")]
    return set(re.findall(r'name="exclude" value="([^"]+)" checked', form))


def _stats_row(page: str, run_id: int) -> str:
    table = page[page.index('id="item-calibrations"'):]
    return re.search(rf'<tr[^>]*data-run="{run_id}">(.*?)</tr>', table, re.S).group(1)  # type: ignore[union-attr]


@pytest.fixture
def researcher(db: Session) -> None:
    create_user(db, "res", "res-password-1", "researcher")
    db.commit()


@pytest.mark.usefixtures("worker")
def test_a_run_done_by_the_job_stores_its_statistics_and_the_pages_show_tick_and_link_them(
        client: Any, db: Session, app: Any) -> None:
    first = analysed_census(db)  # window 114 with its three faults, a first run done in this process
    create_user(db, "res", "res-password-1", "researcher")
    job_id = start_run(db, RunRequest(window="114", name="cal-114-job"), actor="res").id
    db.commit()
    enqueue_calibration(app.extensions["ctcensus"].settings, job_id)  # as the page queues it
    db.rollback()
    _login(client)
    data = _wait_for(client, job_id)
    assert data["status"] == "done" and data["analysis"] == "stored", data

    result, set_id = _read(db, job_id)
    stored = result[STATISTICS_KEY]
    report = analyse_run(db, job_id, secret_key=SECRET)  # the on-demand report of the same run
    db.rollback()
    assert stored == item_summaries(report) and len(stored) == 36
    assert {r.item_id for r in report.flagged} == {MISFIT, DIF, DRIFTED}

    # the run page links its report and its set, and both are served
    page = client.get(f"/research/runs/{job_id}?lang=en").get_data(as_text=True)
    links = page[page.index('class="card run-links"'):]
    assert f'href="/research/runs/{job_id}/analysis">Item analysis report' in links
    assert f'href="/research/params/{set_id}">This run&#39;s parameter set' in links
    assert client.get(f"/research/runs/{job_id}/analysis").status_code == 200
    assert client.get(f"/research/params/{set_id}").status_code == 200
    zh_page = client.get(f"/research/runs/{job_id}?lang=zh-TW").get_data(as_text=True)
    assert "試題分析報告" in zh_page and "這次校準的參數組" in zh_page

    # the item page: p, r, fit, DIF and flags of both runs, newest first, with a trend of the two
    s = stored[DIF]
    for lang, words in (("en", ("Item-rest r", "Gender DIF", "full report", "DIF")),
                        ("zh-TW", ("點二系列 r", "性別 DIF", "完整報告", "DIF"))):
        body = client.get(f"/items/{DIF}?lang={lang}").get_data(as_text=True)
        assert all(w in body for w in words), lang
        table = body[body.index('id="item-calibrations"'):]
        assert 'class="not-computed"' not in table[:table.index("</table>")]  # both runs stored theirs
        row = _stats_row(body, job_id)
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells[3:9] == [str(s["n"]), f"{s['p']:.3f}", f"{s['r']:.3f}", f"{s['a']:.3f}",
                              f"{s['b'][0]:.3f}", f"{s['infit']:.3f} / {s['outfit']:.3f}"], (lang, cells)
        assert cells[10:12] == ["C", "—"]  # gender DIF class C; no grade DIF (not an anchor)
        assert "gender C" in html.unescape(cells[13])
        assert f'/research/runs/{job_id}/analysis#item-{DIF}' in row and 'class="flagged"' in body
        assert f'data-run="{first}"' in body  # the earlier run, too
        assert body.index(f'data-run="{job_id}"') < body.index(f'data-run="{first}"')
        assert 'id="item-trend"' in body and "<svg" in body[body.index('id="item-trend"'):]
    drift_page = client.get(f"/items/{DRIFTED}?lang=en").get_data(as_text=True)
    assert f"{stored[DRIFTED]['drift']:+.2f}" in _stats_row(drift_page, job_id)

    # the set's page ticks the flagged items, each with its reasons; one click re-runs without them
    page = client.get(f"/research/params/{set_id}?lang=en").get_data(as_text=True)
    assert _checked(page) == {MISFIT, DIF, DRIFTED}
    assert "The 3 items this run&#39;s item analysis flagged are ticked" in page
    label = re.search(rf'<label class="flagged" data-flagged><input[^>]+value="{DRIFTED}"[^>]*>(.*?)</label>',
                      page, re.S)
    assert label is not None and "anchor drift: Δb = " in html.unescape(label.group(1))
    assert len(re.findall(r'name="exclude"', page)) == 36
    zh = client.get(f"/research/params/{set_id}?lang=zh-TW").get_data(as_text=True)
    assert "已勾選此次校準的試題分析標示的 3 題" in zh and "定錨題漂移" in zh
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": token, "name": "cal-114-clean", "exclude": sorted(_checked(page))}
    response = client.post(f"/research/params/{set_id}/rerun", data=form)
    assert response.status_code == 303
    db.rollback()
    rerun = db.scalar(select(CalibrationRun).where(CalibrationRun.name == "cal-114-clean"))
    assert rerun is not None
    rerun_id, selection = rerun.id, dict(rerun.selection)
    db.rollback()
    assert selection["rerun_of"] == job_id and selection["exclude"] == sorted([MISFIT, DIF, DRIFTED])
    data = _wait_for(client, rerun_id)
    assert data["status"] == "done" and data["analysis"] == "stored"
    assert set(_read(db, rerun_id)[0][STATISTICS_KEY]) == set(stored) - {MISFIT, DIF, DRIFTED}


def test_a_run_done_before_has_none_until_the_cli_stores_them(client: Any, db: Session, researcher: None,
                                                               run_cli: Any, cli_env: dict[str, str],
                                                               tmp_path: Path) -> None:
    run_id = analysed_census(db, n_classes=4, per_class=40, previous=False)
    run = get_run(db, run_id)
    run.result = {k: v for k, v in (run.result or {}).items() if k not in (STATISTICS_KEY, "item_analysis")}
    set_id = run.parameter_set_id
    queued = start_run(db, RunRequest(window="114", name="later"), actor="test").id
    db.commit()
    db.rollback()
    _login(client)
    body = client.get(f"/items/{DIF}?lang=en").get_data(as_text=True)
    assert f"not computed yet: <code>ctcensus analysis {run_id} --store</code>" in _stats_row(body, run_id)
    assert "尚未計算" in client.get(f"/items/{DIF}?lang=zh-TW").get_data(as_text=True)
    page = client.get(f"/research/params/{set_id}?lang=en").get_data(as_text=True)
    assert _checked(page) == set() and f"store it with ctcensus analysis {run_id} --store" in page
    # a queued run links nothing yet: it has no report and no set
    queued_page = client.get(f"/research/runs/{queued}").get_data(as_text=True)
    assert "/analysis" not in queued_page and "/research/params/" not in queued_page
    db.rollback()

    cli_env["SECRET_KEY"] = SECRET
    result = run_cli("analysis", str(run_id), "--quiet")
    assert result.exit_code != 0 and "--out: name the XLSX to write (or --store" in result.output
    result = run_cli("analysis", "--store")
    assert result.exit_code != 0 and "RUN_ID: name a done calibration run" in result.output
    result = run_cli("analysis", str(queued), "--store")
    assert result.exit_code == 1 and f"calibration run {queued} is queued, not done" in result.output
    result = run_cli("analysis", "--store", "--missing")
    assert result.exit_code == 0, result.output
    assert f"calibration run {run_id}: stored the item statistics of" in result.output
    stored = _read(db, run_id)[0][STATISTICS_KEY]
    assert DIF in stored
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "analysis.store"))
    assert entry is not None and entry.actor.startswith("cli:") and entry.detail["run_id"] == run_id
    db.rollback()
    assert "every done calibration run has its item statistics stored" in run_cli(
        "analysis", "--store", "--missing").output
    result = run_cli("analysis", str(run_id), "--out", str(tmp_path / "a.xlsx"), "--store", "--quiet")
    assert result.exit_code == 0 and "wrote" in result.output and "stored its item statistics" in result.output
    assert (tmp_path / "a.xlsx").is_file() and _read(db, run_id)[0][STATISTICS_KEY] == stored  # the same numbers
    assert len(db.scalars(select(AuditEntry).where(AuditEntry.action == "analysis.store")).all()) == 2
    db.rollback()
    body = client.get(f"/items/{DIF}?lang=en").get_data(as_text=True)
    assert "not computed yet" not in _stats_row(body, run_id)
    assert f"{stored[DIF]['p']:.3f}" in _stats_row(body, run_id)
    assert 'id="item-trend"' not in body  # one run: a table, no trend yet
