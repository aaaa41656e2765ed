"""Parameter sets on the web (issue 11.4): roles, no-store, list / set / compare pages, link, publish with the
window's set as the page showed it (stale: 409, nothing changed), unpublish, recompute, export, re-run."""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.models import AuditEntry, ParameterSet, ScoreRun, TestWindow
from tests.assessment.test_parameter_sets import _copy


def _login(client, username: str, password: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return token


def _token(client, url: str) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def _read(db: Session, statement):  # type: ignore[no-untyped-def]
    """One value, then end the read (SQLite: no transaction may stay open while the app writes)."""
    value = db.scalar(statement)
    db.rollback()
    return value


def _id(db: Session, name: str) -> int:
    set_id = _read(db, select(ParameterSet.id).where(ParameterSet.name == name))
    assert set_id is not None
    return set_id


def test_roles_pages_and_the_whole_workflow(client, db: Session, census) -> None:  # type: ignore[no-untyped-def]
    _copy(db, "shifted", A=1.25, B=0.2, drop=1)
    db.commit()
    shifted = _id(db, "shifted")
    assert client.get("/research/params").status_code == 302  # to the login page
    for name, password in (("bureau1", "bureau-pass"), ("teach-a", "teacher-pass"), ("boss-b", "school-pass")):
        _login(client, name, password)
        assert client.get("/research/params").status_code == 403, name
        assert client.get(f"/research/params/{shifted}").status_code == 403, name
        client.delete_cookie("session")

    _login(client, "res", "research-pass")
    page = client.get("/research/params?lang=en")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    body = page.get_data(as_text=True)
    assert "shifted" in body and "provisional-2026" in body and "item files" in body and "Draft" in body
    assert "參數組" in client.get("/research/params?lang=zh-TW").get_data(as_text=True)
    assert client.get(f"/research/params/{shifted}").status_code == 200
    assert client.get("/research/params/99999").status_code == 404

    cmp = client.get("/research/params/compare?a=provisional-2026&b=shifted&lang=en")
    assert cmp.status_code == 200 and "Only in provisional-2026" in cmp.get_data(as_text=True)
    rows = client.get("/research/params/compare?a=provisional-2026&b=shifted&format=csv").get_data(as_text=True)
    assert rows.splitlines()[0] == "item,parameter,provisional-2026,shifted,difference"
    assert client.get("/research/params/compare?a=provisional-2026&b=nope").status_code == 404
    assert client.get("/research/params/compare?a=shifted").status_code == 400

    exported = client.get(f"/research/params/{shifted}/params.csv")
    assert exported.status_code == 200 and exported.get_data(as_text=True).startswith("item,model,a,d1")
    assert client.get(f"/research/params/{shifted}/groups.csv").get_data(as_text=True).startswith(
        "group,mean,sd,se_mean,se_sd,n\r\n5,")  # as calibrate writes it

    # link: a new draft set on the base's scale, audited
    token = _token(client, f"/research/params/{shifted}")
    assert client.post(f"/research/params/{shifted}/link", data={"base": "provisional-2026",
                                                                 "method": "haebara"}).status_code == 400  # no token
    response = client.post(f"/research/params/{shifted}/link", data={
        "csrf_token": token, "base": "provisional-2026", "method": "haebara", "name": "shifted-linked"})
    assert response.status_code == 303
    linked = _id(db, "shifted-linked")
    assert response.headers["Location"].endswith(f"/research/params/{linked}")
    page = client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "A = 1.2500" in page and "B = 0.2000" in page and "jackknife" in page
    bad = client.post(f"/research/params/{shifted}/link", data={"csrf_token": token, "base": "provisional-2026",
                                                                "method": "mean-mean"})
    assert bad.status_code == 400 and "--method" in bad.get_data(as_text=True)

    # publish: the form carries the window's set as the page showed it
    window = _read(db, select(TestWindow).where(TestWindow.code == "113"))
    assert window is not None and window.parameter_set_id is None
    db.rollback()
    audits = _read(db, select(func.count()).select_from(AuditEntry))
    stale = client.post(f"/research/params/{linked}/publish", data={
        "csrf_token": token, "window": "113", "expected_113": str(shifted)})  # the page showed another set
    assert stale.status_code == 409 and "changed while you published" in stale.get_data(as_text=True)
    assert _read(db, select(TestWindow.parameter_set_id).where(TestWindow.code == "113")) is None
    assert _read(db, select(func.count()).select_from(AuditEntry)) == audits
    db.rollback()
    ok = client.post(f"/research/params/{linked}/publish", data={"csrf_token": token, "window": "113",
                                                                 "expected_113": ""})
    assert ok.status_code == 303
    assert _read(db, select(TestWindow.parameter_set_id).where(TestWindow.code == "113")) == linked
    db.rollback()
    assert "Published for window 113" in client.get("/research/params?lang=en").get_data(as_text=True)

    # recompute with the published set, then withdraw it
    before = _read(db, select(func.count()).select_from(ScoreRun))
    db.rollback()
    assert client.post("/research/params/windows/113/recompute", data={"csrf_token": token}).status_code == 303
    run = db.scalar(select(ScoreRun).where(ScoreRun.current.is_(True)))
    assert run is not None and run.parameter_set_id == linked
    assert _read(db, select(func.count()).select_from(ScoreRun)) == before + 1
    db.rollback()
    assert client.post("/research/params/windows/113/unpublish", data={
        "csrf_token": token, "expected": str(linked)}).status_code == 303
    assert _read(db, select(TestWindow.parameter_set_id).where(TestWindow.code == "113")) is None
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.actor == "res")))
    db.rollback()
    assert {"params.link", "params.publish", "params.unpublish", "params.export", "results.compute"} <= actions
    db.rollback()

    # a set not made by a run has nothing to re-run
    response = client.post(f"/research/params/{shifted}/rerun", data={"csrf_token": token, "name": "x",
                                                                       "exclude": "a"})
    assert response.status_code == 400 and "not made by a calibration run" in response.get_data(as_text=True)


def test_the_set_page_warns_of_non_convergence_and_publishing_needs_consent(  # type: ignore[no-untyped-def]
        client, db: Session, census, app) -> None:
    from assessment.calibration_runs import RunRequest, execute_run, start_run
    from assessment.db import make_session_factory
    from assessment.states import CalibrationStatus

    run_id = start_run(db, RunRequest(window="113", name="cal-short", max_iter=3), "test").id
    db.commit()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    assert execute_run(factory, run_id, secret_key=app.config["SECRET_KEY"]) is CalibrationStatus.DONE
    set_id = _id(db, "cal-short")
    _login(client, "res", "research-pass")
    page = client.get(f"/research/params/{set_id}?lang=en").get_data(as_text=True)
    assert "did not converge" in page and 'name="allow_unconverged"' in page
    assert "尚未收斂" in client.get(f"/research/params/{set_id}?lang=zh-TW").get_data(as_text=True)
    token = _token(client, f"/research/params/{set_id}")
    form = {"csrf_token": token, "window": "113", "expected_113": ""}
    refused = client.post(f"/research/params/{set_id}/publish", data=form)
    assert refused.status_code == 409 and "--allow-unconverged" in refused.get_data(as_text=True)
    assert _read(db, select(TestWindow.parameter_set_id).where(TestWindow.code == "113")) is None
    ok = client.post(f"/research/params/{set_id}/publish", data={**form, "allow_unconverged": "1"})
    assert ok.status_code == 303
    assert _read(db, select(TestWindow.parameter_set_id).where(TestWindow.code == "113")) == set_id
    converged = _copy(db, "from-files")  # not made by a run: nothing to warn about
    db.commit()
    assert 'name="allow_unconverged"' not in client.get(f"/research/params/{converged.id}").get_data(as_text=True)
