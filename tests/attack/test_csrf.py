"""CSRF on every state-changing staff route: found from app.url_map, so a new route without a case here fails.

For each route (and each value of an `any(...)` part such as the proctor's pause/resume/close),
a signed-in user with the rights to do it sends the request without a token, with a wrong one, with
another session's valid token, and with the token only in the query string. Each must be a 4xx that
changes nothing (every watched table, the audit log included); then the same request with the right
token succeeds, which proves the refusal was the CSRF check and not something else.
"""
from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.routing import AnyConverter

from assessment.models import TestSession
from tests.assessment.factories import make_class

from .conftest import PASSWORD, World, csrf_of, snapshot, staff_client

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Attack:
    """One state-changing request: who sends it, where, with what body, and how the token travels."""

    username: str | None  # None: an anonymous client (the login form)
    url: str
    form: dict[str, str] | None = None  # a form post (token in the csrf_token field); else JSON + X-CSRF-Token
    json: dict[str, Any] | None = None
    cleanup: Callable[[], None] | None = None  # undo what the case set up outside the database (a worker's record)
    files: dict[str, tuple[bytes, str]] | None = None  # uploads of a form post: field -> (content, file name)

    def send(self, client: FlaskClient, token: str | None, *, in_query: bool = False) -> Any:
        url = f"{self.url}?csrf_token={token}" if in_query and token else self.url
        if self.form is not None:
            data: dict[str, Any] = dict(self.form)
            data |= {field: (io.BytesIO(content), name) for field, (content, name) in (self.files or {}).items()}
            if token is not None and not in_query:
                data["csrf_token"] = token
            return client.post(url, data=data)
        headers = {"X-CSRF-Token": token} if token is not None and not in_query else {}
        return client.post(url, json=self.json, headers=headers)


def _spare_class(db: Session, world: World) -> tuple[int, int]:
    """A class of school A with no session yet, and the grade-5 form in use (to open a session with)."""
    klass = make_class(db, grade=5, n_students=2, school=world.a.source_id)
    form_id = db.scalar(select(TestSession.form_id).where(TestSession.id == world.a.session_id))
    db.commit()
    assert form_id is not None
    return klass.id, form_id


# endpoint (+ the value of its any(...) part) -> the request that exercises it
CASES: dict[tuple[str, str], Callable[[World, Session], Attack]] = {
    ("auth.login", ""): lambda w, db: Attack(None, "/login", form={"username": "root", "password": PASSWORD}),
    ("auth.logout", ""): lambda w, db: Attack("root", "/logout", form={}),
    ("proctor.open_session", ""): lambda w, db: _open_session(w, db),
    **{("proctor.session_action", action): (lambda a: lambda w, db: Attack(
        "a-proctor", f"/proctor/api/sessions/{w.a.session_id}/{a}"))(action) for action in ("pause", "resume", "close")},
    **{("proctor.attempt_action", action): (lambda a: lambda w, db: Attack(
        "a-proctor", f"/proctor/api/attempts/{w.a.attempt_ids[0]}/{a}",
        json={"seconds": 120} if a == "extend" else None))(action) for action in ("extend", "lock", "unlock")},
    **{("research_params." + name, ""): (lambda n: lambda w, db: _params_attack(db, n))(name)
       for name in ("link", "publish", "unpublish", "recompute", "rerun")},
    ("research_runs.start", ""): lambda w, db: _start_run_attack(),
    ("research_runs.cancel", ""): lambda w, db: _cancel_run_attack(db),
    # a small design (the example file, fewer students) runs in the request; it is audited, which the tables see
    ("research_design.simulate", ""): lambda w, db: Attack("researcher", "/research/design", form={
        "source": "file", "replications": "2", "seed": "1"}, files={"design_file": (_small_design(), "small.yaml")}),
}


def _small_design() -> bytes:
    """docs/design-example.yaml with 2 replications of 300 students per grade (quick enough to run in the request)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "design-example.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^replications: \d+", "replications: 2", text, flags=re.M)
    return re.sub(r"students: \d+", "students: 300", text).encode()


def _start_run_attack() -> Attack:
    """Starting a run from /research/: the page refuses it unless a worker listens, so one is registered (a real RQ
    worker record on the test's queue; it takes nothing, the run stays queued) and removed after the case."""
    from rq import Worker

    from assessment.jobs import calibration_queue
    from webapp.extensions import services

    queue = calibration_queue(services().settings)
    worker = Worker([queue], connection=queue.connection, name=f"csrf-test-{id(queue)}")
    worker.register_birth()
    return Attack("researcher", "/research/runs", form={"window": "113", "grade": "", "model": "auto",
                                                         "group_column": "grade", "anchors": "free",
                                                         "anchor_set": "", "name": "csrf-run"},
                  cleanup=worker.register_death)


def _cancel_run_attack(db: Session) -> Attack:
    """Cancelling a queued run (recorded, never taken: no worker here)."""
    from assessment.calibration_runs import RunRequest, start_run

    run_id = start_run(db, RunRequest(window="113", name="csrf-cancel"), actor="setup").id
    db.commit()
    return Attack("researcher", f"/research/runs/{run_id}/cancel", form={})


def _params_attack(db: Session, action: str) -> Attack:
    """A researcher's parameter-set action (issue 11.4) on the starter bank's provisional set."""
    from assessment.models import CalibrationRun, ParameterSet, TestWindow
    from assessment.parameter_publishing import publish_set
    from assessment.states import CalibrationStatus
    from tests.assessment.test_parameter_sets import _copy

    window = db.scalar(select(TestWindow).where(TestWindow.code == "113"))
    assert window is not None
    pset = _copy(db, "csrf-copy", A=1.1, B=0.1)
    db.commit()
    if action == "link":
        return Attack("researcher", f"/research/params/{pset.id}/link",
                      form={"base": "provisional-2026", "method": "stocking-lord", "name": "csrf-linked"})
    if action == "publish":
        return Attack("researcher", f"/research/params/{pset.id}/publish", form={"window": "113", "expected_113": ""})
    if action == "unpublish":
        publish_set(db, "csrf-copy", "113", "setup")
        db.commit()
        return Attack("researcher", "/research/params/windows/113/unpublish", form={"expected": str(pset.id)})
    if action == "recompute":
        _paper_scores(db, tmp_dir=Path(tempfile.mkdtemp()))
        return Attack("researcher", "/research/params/windows/113/recompute", form={})
    items = sorted(r.item.item_id for r in db.scalar(select(ParameterSet).where(ParameterSet.id == pset.id)).parameters)
    db.add(CalibrationRun(name="csrf-copy", window_id=window.id, status=CalibrationStatus.DONE, parameter_set_id=pset.id,
                          selection={"window": "113", "grade": None, "items": items},
                          settings={"model": "auto", "group_column": "grade", "anchors": "free", "anchor_set": None,
                                    "reference_group": "lowest", "max_iter": 5, "tol": 1e-4, "se": "louis"},
                          software_version="test"))
    db.commit()
    return Attack("researcher", f"/research/params/{pset.id}/rerun", form={"exclude": items[0], "name": "csrf-rerun"})


def _paper_scores(db: Session, tmp_dir: Path) -> None:
    """School A's two students finished on paper: a window with results to recompute."""
    from assessment.forms import form_items
    from assessment.models import Form
    from assessment.responses_import import import_responses

    form = db.scalar(select(Form).order_by(Form.id).limit(1))
    assert form is not None
    ids = [item.id for _, _, item in form_items(db, form)]
    path = tmp_dir / "paper.csv"
    path.write_text("student," + ",".join(ids) + "\n" + "".join(
        f"es-a-c1-0{seat}," + ",".join(str((seat + j) % 2) for j in range(len(ids))) + "\n" for seat in (1, 2)))
    import_responses(db, path, window_code="113", form_id=form.id, actor="setup", replace=True)
    db.commit()


def _open_session(world: World, db: Session) -> Attack:
    class_id, form_id = _spare_class(db, world)
    return Attack("a-proctor", "/proctor/sessions",
                  form={"class_id": str(class_id), "form_id": str(form_id), "minutes": "35", "window": "113"})


def state_changing_routes(app: Flask) -> set[tuple[str, str]]:
    """(endpoint, any-value) of every non-API route that takes POST, PUT, PATCH or DELETE."""
    found: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if not (rule.methods or set()) & STATE_CHANGING or rule.rule.startswith("/api/v1/"):
            continue  # the student API authenticates with a bearer header, not a cookie: no CSRF
        choices = [c for c in rule._converters.values() if isinstance(c, AnyConverter)]
        values = sorted(choices[0].items) if choices else [""]
        assert len(choices) <= 1, f"{rule.rule}: extend the enumeration to several any(...) parts"
        found.update((rule.endpoint, v) for v in values)
    return found


def test_every_state_changing_route_has_a_csrf_case(app: Flask) -> None:
    """A new POST/PUT/PATCH/DELETE route (or a new action) must get a case in CASES before this passes."""
    found = state_changing_routes(app)
    assert found == set(CASES), (f"routes without a CSRF case: {sorted(found - set(CASES))}; "
                                 f"cases for no route: {sorted(set(CASES) - found)}")


def _prepare(action: str, db: Session, world: World) -> None:
    """Put the target in a state where the real request changes something (unlock needs a lock, resume a pause)."""
    from assessment import proctoring

    if action == "unlock":
        proctoring.lock_attempt(db, world.a.attempt_ids[0], actor="setup")
    elif action == "resume":
        proctoring.pause_session(db, world.a.session_id, actor="setup")
    db.commit()


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]}-{k[1]}" if k[1] else k[0])
def test_no_state_change_without_the_csrf_token(app: Flask, db: Session, two_schools: World, watch: Engine,
                                                key: tuple[str, str]) -> None:
    world = two_schools
    _prepare(key[1], db, world)
    with app.app_context():  # a case may need the app's services (e.g. its Redis queue)
        attack = CASES[key](world, db)
    if attack.username is None:
        client, token = app.test_client(), None
        token = csrf_of(client.get("/login").data)
    else:
        client, token = staff_client(app, attack.username)
    _, someone_elses = staff_client(app, "root" if attack.username != "root" else "a-admin")
    before = snapshot(watch)
    for label, sent, in_query in (("none", None, False), ("wrong", "x" * len(token), False), ("empty", "", False),
                                  ("other session's", someone_elses, False), ("in the query", token, True)):
        response = attack.send(client, sent, in_query=in_query)
        assert 400 <= response.status_code < 500, (label, response.status_code)
        assert snapshot(watch) == before, label
        if attack.username is not None:
            assert client.get("/home").status_code == 200, label  # still signed in: the refusal ended nothing
        else:
            assert client.get("/home").status_code == 302, label  # and not signed in by a forged login
    try:
        done = attack.send(client, token)
        assert done.status_code in (200, 302, 303), done.get_data(as_text=True)[:300]
        assert snapshot(watch) != before  # the same request with the token does change something
    finally:
        if attack.cleanup is not None:
            attack.cleanup()


def test_the_session_cookie_is_httponly_and_samesite(app: Flask) -> None:
    """The second line of defence: browsers do not send the staff cookie on cross-site posts, nor show it to scripts."""
    client = app.test_client()
    response = client.get("/login")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
