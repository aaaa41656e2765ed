"""The research workbench pages (issue 11.2, web): roles, CSRF, bad input that stores nothing, no worker, a run
started from the page and done on a real `ctcensus worker`, progress.json, cancel, both languages."""
from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.accounts import create_user
from assessment.calibration_runs import RunRequest, start_run
from assessment.jobs import enqueue_calibration
from assessment.models import AuditEntry, CalibrationRun, ItemParameterRecord, ParameterSet
from tests.assessment.test_calibration_runs import simulate_known_census
from tests.webapp.test_cli_calibrate_runs import worker  # noqa: F401  (fixture: a real `ctcensus worker` process)

ROLES = (("adm", "admin"), ("res", "researcher"), ("bur", "bureau"), ("boss", "school_admin"), ("teach", "teacher"))


def _login(client: Any, username: str) -> None:
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    response = client.post("/login", data={"username": username, "password": f"{username}-password-1",
                                           "csrf_token": token})
    assert response.status_code == 302, response.data[:300]


def _token(client: Any) -> str:
    page = client.get("/research/").data
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def _counts(db: Session) -> tuple[int, int, int, int]:
    db.rollback()
    counts = tuple(db.scalar(select(func.count()).select_from(t)) or 0
                   for t in (CalibrationRun, ParameterSet, ItemParameterRecord, AuditEntry))
    db.rollback()  # SQLite: no read transaction may stay open while the app or the worker writes
    return counts  # type: ignore[return-value]


def _queued(db: Session, name: str, **settings: Any) -> int:
    """A run recorded as the page records one (not put on any queue); returns its id."""
    run_id = start_run(db, RunRequest(window="113", name=name, **settings), "cli:test").id
    db.commit()
    db.rollback()
    return run_id


def _status(db: Session, run_id: int) -> str:
    status = db.scalar(select(CalibrationRun.status).where(CalibrationRun.id == run_id))
    db.rollback()  # SQLite: a transaction left open would hold the app's writes
    return str(status)


@pytest.fixture
def staff(db: Session, tmp_path: Path) -> None:
    """The simulated census of window 113 (grades 5 and 8 on paper) and one login per role."""
    simulate_known_census(db, tmp_path, n_per_grade=200)
    for name, role in ROLES:
        create_user(db, name, f"{name}-password-1", role, school_source_id="es-0" if role in (
            "school_admin", "teacher") else None, class_source_ids=["es-0-c1"] if role == "teacher" else ())
    db.commit()


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A queue of this test's own that no worker listens to."""
    monkeypatch.setenv("CTCENSUS_REDIS_PREFIX", f"ctctest:{uuid.uuid4().hex[:8]}:")


def test_only_admins_and_researchers_reach_the_workbench_and_nothing_is_cached(app: Any, client: Any, db: Session,
                                                                                staff: None) -> None:
    run_id = _queued(db, "cal-roles")
    paths = ["/research/", f"/research/runs/{run_id}", f"/research/runs/{run_id}/progress.json"]
    for path in paths:
        assert client.get(path).status_code == 302  # not signed in: to the login page
    assert client.get("/research/runs/999").status_code == 302
    for name, role in ROLES:
        staff_client = app.test_client()
        _login(staff_client, name)
        for path in paths:
            response = staff_client.get(path)
            assert response.status_code == (200 if role in ("admin", "researcher") else 403), (role, path)
            assert response.headers["Cache-Control"] == "no-store"
        assert ("研究工作台" in staff_client.get("/home").get_data(as_text=True)) == (role in ("admin", "researcher"))
        if role == "researcher":
            assert staff_client.get("/research/runs/999").status_code == 404


def test_the_pages_in_both_languages_under_the_strict_csp(client: Any, db: Session, staff: None) -> None:
    run_id = _queued(db, "cal-lang", grade=8, model="grm")
    _login(client, "res")
    home = client.get("/research/")
    assert "script-src 'self'" in home.headers["Content-Security-Policy"] and "<script>" not in home.get_data(True)
    zh = home.get_data(as_text=True)
    assert "研究工作台" in zh and "開始校準" in zh and "cal-lang" in zh and "排隊中" in zh
    en = client.get("/research/?lang=en").get_data(as_text=True)
    assert "Research workbench" in en and "Start the run" in en and "queued" in en
    page = client.get(f"/research/runs/{run_id}?lang=en").get_data(as_text=True)
    assert f"Calibration run #{run_id}: cal-lang" in page and "Cancel this run" in page
    assert 'id="run-progress"' in page and "research/run.js" in page and "EM iteration 0 of at most 500" in page
    assert "grm" in page
    zh_page = client.get(f"/research/runs/{run_id}?lang=zh-TW").get_data(as_text=True)
    assert "取消這次校準" in zh_page and "EM 第 0 次疊代（最多 500 次）" in zh_page
    progress = client.get(f"/research/runs/{run_id}/progress.json").get_json()
    assert progress["status"] == "queued" and progress["finished"] is False and progress["max_iter"] == 500
    assert progress["fraction"] == 0.0


def test_a_post_without_the_csrf_token_or_with_bad_input_creates_nothing(client: Any, db: Session, staff: None,
                                                                         no_worker: None) -> None:
    _login(client, "res")
    before = _counts(db)
    good = {"window": "113", "grade": "", "model": "auto", "group_column": "grade", "anchors": "free",
            "anchor_set": "", "name": "cal-web"}
    assert client.post("/research/runs", data=good).status_code == 400  # no token
    token = _token(client)
    assert client.post("/research/runs", data=good | {"csrf_token": "forged"}).status_code == 400
    cases = [
        ({"window": "999"}, 404, "no test window"),
        ({"grade": "7"}, 400, "Grade: choose 5, 8 or both"),
        ({"model": "4pl"}, 400, "--model"),
        ({"group_column": "school"}, 400, "--group-column"),
        ({"anchors": "loose"}, 400, "--anchors"),
        ({"name": ""}, 400, "--name"),
        ({"name": "x" * 65}, 400, "--name"),
        ({"name": "provisional-2026"}, 409, "a parameter set named &#39;provisional-2026&#39; exists already"),
        ({"anchors": "fixed"}, 400, "--anchor-set"),
        ({"anchors": "fixed", "anchor_set": "nope"}, 404, "no parameter set named &#39;nope&#39;"),
        ({"window": ""}, 400, "Window: choose a test window"),
    ]
    for change, status, message in cases:
        response = client.post("/research/runs?lang=en", data=good | change | {"csrf_token": token})
        body = response.get_data(as_text=True)
        assert response.status_code == status, (change, body[-800:])
        assert message in body and 'id="start-error"' in body, (change, body[-800:])
        assert 'name="name"' in body  # the form comes back, filled in
        assert _counts(db) == before, change
    # good input, but no worker listens: refused (503), nothing recorded
    response = client.post("/research/runs?lang=en", data=good | {"csrf_token": token})
    assert response.status_code == 503 and "No background worker is running" in response.get_data(as_text=True)
    assert 'value="cal-web"' in response.get_data(as_text=True)
    assert _counts(db) == before


def test_cancel_a_queued_run_and_refuse_to_cancel_it_twice(client: Any, db: Session, staff: None) -> None:
    run_id = _queued(db, "cal-cancel")
    _login(client, "adm")
    assert client.post(f"/research/runs/{run_id}/cancel").status_code == 400  # no token
    assert _status(db, run_id) == "queued"
    token = _token(client)
    response = client.post(f"/research/runs/{run_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/research/runs/{run_id}")
    assert _status(db, run_id) == "cancelled"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "calibration.cancel"))
    assert entry is not None and entry.actor == "adm" and entry.target == f"run {run_id}"
    db.rollback()
    page = client.get(f"/research/runs/{run_id}?lang=en").get_data(as_text=True)
    assert "cancelled" in page and "Cancel this run" not in page
    again = client.post(f"/research/runs/{run_id}/cancel?lang=en", data={"csrf_token": token})
    assert again.status_code == 409 and "has already ended" in again.get_data(as_text=True)
    assert client.post("/research/runs/4242/cancel", data={"csrf_token": token}).status_code == 404


def _wait_for(client: Any, run_id: int, done: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = client.get(f"/research/runs/{run_id}/progress.json").get_json()
        if done(data):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.2)


@pytest.mark.usefixtures("worker")
def test_a_run_started_on_the_page_is_done_by_the_worker_and_a_running_one_is_cancelled(
        client: Any, db: Session, staff: None, app: Any) -> None:
    _login(client, "res")
    before = _counts(db)
    token = _token(client)
    response = client.post("/research/runs", data={"window": "113", "grade": "", "model": "auto",
                                                   "group_column": "grade", "anchors": "free", "anchor_set": "",
                                                   "name": "cal-web", "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    # the job ends the run done, then stores its item statistics (pending until then)
    data = _wait_for(client, run_id, lambda d: d["finished"] and d["analysis"] != "pending")
    assert data["status"] == "done" and data["fraction"] == 1.0 and data["iteration"] > 1
    assert data["analysis"] == "stored", data
    page = client.get(f"/research/runs/{run_id}?lang=en").get_data(as_text=True)
    assert 'id="run-summary"' in page and "converged in" in page and "AIC / BIC" in page
    assert "<code>cal-web</code>" in page and "Cancel this run" not in page
    db.rollback()
    start = db.scalar(select(AuditEntry).where(AuditEntry.action == "calibration.start"))
    assert start is not None and start.actor == "res" and start.detail["name"] == "cal-web"
    assert _counts(db)[:2] == (before[0] + 1, before[1] + 1)
    home = client.get("/research/?lang=en").get_data(as_text=True)
    assert f'href="/research/runs/{run_id}"' in home and "done" in home
    # the item page lists the new draft set and the run that used the item
    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-web"))
    assert pset is not None
    item_id = pset.parameters[0].item.item_id
    db.rollback()
    item_page = client.get(f"/items/{item_id}?lang=en").get_data(as_text=True)
    assert "cal-web" in item_page and f"#{run_id} cal-web" in item_page
    assert "not computed yet" not in item_page and 'id="item-calibrations"' in item_page  # the job stored them

    # a run that would go on for long (tol never reached), queued as the page does, is cancelled from the page
    long_id = _queued(db, "cal-long", tol=1e-300, max_iter=1_000_000)
    enqueue_calibration(app.extensions["ctcensus"].settings, long_id)  # as the page does after recording it
    db.rollback()
    data = _wait_for(client, long_id, lambda d: d["iteration"] >= 2)
    assert data["status"] == "running" and data["loglik"] is not None and data["change"] is not None
    assert 0 < data["fraction"] < 1
    assert "Cancel this run" in client.get(f"/research/runs/{long_id}?lang=en").get_data(as_text=True)
    assert client.post(f"/research/runs/{long_id}/cancel", data={"csrf_token": token}).status_code == 303
    data = _wait_for(client, long_id, lambda d: d["finished"], timeout=30)
    assert data["status"] == "cancelled"
    db.rollback()
    assert db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-long")) is None
    db.rollback()
