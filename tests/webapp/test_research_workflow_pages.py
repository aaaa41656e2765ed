"""The researcher flow's pages lead to each other (issue 11): a run links its report once done and its parameter set
by id, the report links back to its run and set, the EM step reads in the page's language, the run says where its
set is published, and the parameter-set list stacks its rows at 200% zoom (the defects the browser test of the
whole flow, tests/browser/test_research_workflow.py, found)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.calibration_runs import RunRequest, execute_run, start_run
from assessment.models import ParameterSet
from assessment.parameter_publishing import publish_set
from assessment.states import CalibrationStatus
from tests.assessment.test_calibration_runs import SECRET, _factory, simulate_known_census


def _login(client: Any) -> None:
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    assert client.post("/login", data={"username": "res", "password": "research-pass",
                                       "csrf_token": token}).status_code == 302


def _run(db: Session, name: str, *, execute: bool) -> int:
    run_id = start_run(db, RunRequest(window="113", name=name), "res").id
    db.commit()
    if execute:
        assert execute_run(_factory(db), run_id, secret_key=SECRET) is CalibrationStatus.DONE
    db.rollback()
    return run_id


def test_runs_link_their_report_and_set_by_id_and_the_report_links_back(
        client: Any, db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=200)
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    # a set named like another route: linked by name, "/research/params/compare" would open the compare page
    done = _run(db, "compare", execute=True)
    set_id = db.scalar(select(ParameterSet.id).where(ParameterSet.name == "compare"))
    queued = _run(db, "cal-queued", execute=False)
    db.rollback()
    _login(client)

    page = client.get(f"/research/runs/{done}").get_data(as_text=True)
    links = re.search(r'<nav class="card run-links".*?</nav>', page, re.S)
    assert links is not None, page[-2000:]
    assert re.findall(r'href="([^"]+)"', links.group(0)) == [f"/research/runs/{done}/analysis",
                                                            f"/research/params/{set_id}"]
    assert client.get(f"/research/params/{set_id}").status_code == 200
    assert "<code>compare</code> (草稿，尚未發布)" in page
    assert "完成：EM 第" in page and "done:" not in page  # the EM step in the page's language
    # a queued run has no report yet (its page would be a 409) and no set: no links at all
    assert 'class="card run-links"' not in client.get(f"/research/runs/{queued}").get_data(as_text=True)

    zh, en = (client.get(f"/research/runs/{done}/progress.json?lang={lang}").get_json() for lang in ("zh-TW", "en"))
    assert (zh["step"], zh["step_text"], en["step"], en["step_text"]) == ("done", "完成", "done", "done")
    assert client.get(f"/research/runs/{queued}/progress.json?lang=zh-TW").get_json()["step_text"] == "排隊中"

    report = client.get(f"/research/runs/{done}/analysis").get_data(as_text=True)
    assert f'href="/research/runs/{done}">校準 #{done}：compare</a>' in report
    assert f'href="/research/params/{set_id}">這次校準的參數組</a>' in report
    assert f"<h1>試題分析：校準 #{done}：compare</h1>" in report

    publish_set(db, "compare", "113", "res")
    db.commit()
    page = client.get(f"/research/runs/{done}?lang=en").get_data(as_text=True)
    assert "<code>compare</code> (Published for window 113)" in page and "done: EM iteration" in page


def test_the_parameter_set_pages_load_the_workbench_styles(client: Any, db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=100)
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    set_id = db.scalar(select(ParameterSet.id).where(ParameterSet.name == "provisional-2026"))
    db.rollback()
    _login(client)
    for url in ("/research/params", f"/research/params/{set_id}"):
        page = client.get(url).get_data(as_text=True)
        assert "/static/research/research.css" in page and 'class="research-page"' in page, url
    # the set page's actions: headings and forms one under another, not one flex row
    assert '<section class="set-actions">' in client.get(f"/research/params/{set_id}").get_data(as_text=True)
    css = (Path(__file__).parents[2] / "webapp" / "static" / "research" / "research.css").read_text(encoding="utf-8")
    assert "table.params td::before" in css
