"""The research workbench: calibration runs started, followed and cancelled from the browser (issue 11.2).

Thin over `assessment.calibration_runs` and `assessment.jobs`, the very functions
`ctcensus calibrate --no-wait` uses: a start records a queued run (audited) and
puts it on the RQ research queue for the worker `ctcensus serve` starts; with no
worker listening it is refused (nobody would take it) and nothing is stored. Admins
and researchers only; never cached.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from assessment.audit_log import TAIWAN
from assessment.calibration_runs import (
    ANCHOR_MODES,
    GROUP_COLUMNS,
    MODELS,
    RunRequest,
    cancel_run,
    get_run,
    list_runs,
    mark_failed,
    start_run,
)
from assessment.errors import DomainError, InvalidInput
from assessment.hotstate import REDIS_ERRORS
from assessment.item_analysis_store import analysis_state
from assessment.jobs import calibration_job_failure, enqueue_calibration, workers_listening
from assessment.models import CalibrationRun, ParameterSet, TestWindow
from assessment.states import CalibrationStatus
from assessment.windows import list_windows

from ..extensions import db_session, services
from ..i18n import gettext as _
from ..security import check_csrf, current_user, role_required, strict_page

__all__ = ["RESEARCH_ROLES", "bp", "run_progress"]

bp = Blueprint("research_runs", __name__, url_prefix="/research")

RESEARCH_ROLES = ("admin", "researcher")
FORM_MODELS = tuple(m for m in MODELS if m != "rasch")  # "rasch" is the CLI's other name of 1pl
GRADES = (5, 8)


@bp.app_template_filter("research_time")
def research_time(value: datetime | None) -> str:
    """A stored UTC time as Taiwan time, to the second (as the audit log shows times)."""
    return value.astimezone(TAIWAN).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


@bp.after_request
def _private(response: Response) -> Response:
    """Runs name their researchers and data selections: never kept by a shared browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _actor() -> str:
    user = current_user()
    return user.username if user is not None else "?"


def _form_values() -> dict[str, str]:
    keys = ("window", "grade", "model", "group_column", "anchors", "anchor_set", "name")
    return {k: (request.form.get(k) or "").strip() for k in keys}


def _request_from(values: dict[str, str]) -> RunRequest:
    """The form's fields as a RunRequest; InvalidInput names a field that is not even of the right kind."""
    grade: int | None = None
    if values["grade"] not in ("", "both"):
        if values["grade"] not in {str(g) for g in GRADES}:
            raise InvalidInput(_("research.error.grade", got=values["grade"]))
        grade = int(values["grade"])
    if not values["window"]:
        raise InvalidInput(_("research.error.window"))
    return RunRequest(window=values["window"], name=values["name"], grade=grade, model=values["model"] or "auto",
                      group_column=values["group_column"] or "grade", anchors=values["anchors"] or "free",
                      anchor_set=values["anchor_set"] or None)


def _index_page(values: dict[str, str] | None = None, error: str | None = None, status: int = 200) -> Response:
    session = db_session()
    runs = list_runs(session)
    sets = list(session.scalars(select(ParameterSet.name).order_by(ParameterSet.name)))
    html = render_template("research/index.html", runs=runs, windows=list_windows(session), parameter_sets=sets,
                           models=FORM_MODELS, group_columns=GROUP_COLUMNS, anchor_modes=ANCHOR_MODES,
                           grades=GRADES, values=values or {}, error=error)
    session.rollback()
    return strict_page(html, status)


@bp.get("/")
@role_required(*RESEARCH_ROLES)
def index() -> ResponseReturnValue:
    """The workbench home: every calibration run, newest first, and the form that starts one."""
    return _index_page()


def _worker_listening() -> bool:
    try:
        return workers_listening(services().settings) > 0
    except REDIS_ERRORS:
        return False


@bp.post("/runs")
@role_required(*RESEARCH_ROLES)
def start() -> ResponseReturnValue:
    """Record a run and queue it for the worker (as `ctcensus calibrate --no-wait`); bad input stores nothing."""
    check_csrf()
    values = _form_values()
    settings = services().settings
    session = db_session()
    try:
        req = _request_from(values)
        run = start_run(session, req, _actor())  # every check of the request first, then: will anyone take it?
        if not _worker_listening():
            session.rollback()
            return _index_page(values, _("research.error.no_worker"), 503)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _index_page(values, exc.message, exc.http_status)
    try:
        enqueue_calibration(settings, run.id)
    except Exception as exc:  # Redis gone between the check and the enqueue: the run must not stay queued
        mark_failed(session, run.id, f"could not queue the run: {exc}")
        session.commit()
        return _index_page(values, _("research.error.enqueue", run=run.id), 503)
    return redirect(url_for("research_runs.show", run_id=run.id), 303)


def _check_job(run: CalibrationRun) -> None:
    """A run whose worker job died (killed, out of memory) is marked failed, so nobody watches it forever."""
    if run.status.finished:
        return
    try:
        reason = calibration_job_failure(services().settings, run.id)
    except REDIS_ERRORS:  # Redis unreachable: the run's row is all there is to show
        return
    if reason is not None:
        mark_failed(db_session(), run.id, reason)
        db_session().commit()


def _run_links(run: CalibrationRun) -> list[tuple[str, str]]:
    """The pages a run leads to, as (message key, URL): its item-analysis report once done, its parameter set.

    The set's page is addressed by the set's id (a name could read as another route, or as another set's id).
    """
    links: list[tuple[str, str]] = []
    if run.status == CalibrationStatus.DONE:
        links.append(("research.link.analysis", url_for("research_analysis.analysis", run_id=run.id)))
    if run.parameter_set_id is not None:
        links.append(("research.link.params", url_for("research_params.show", set_id=run.parameter_set_id)))
    return links


def _step_text(step: str) -> str:
    """The run's step in the reader's language ("" stays ""; a step the catalogue lacks shows as it is)."""
    key = f"research.step.{step}"
    text = _(key) if step else ""
    return step if text == key else text


def run_progress(run: CalibrationRun) -> dict[str, Any]:
    """What the page's progress bar shows: the status and the EM's iteration, log-likelihood and change."""
    progress = dict(run.progress or {})
    max_iter = int(progress.get("max_iter") or run.settings.get("max_iter") or 1)
    iteration = int(progress.get("iteration") or 0)
    done = str(run.status) == "done"
    step = str(progress.get("step", ""))
    return {"run": run.id, "status": str(run.status), "status_text": _(f"research.status.{run.status}"),
            "finished": run.status.finished, "step": step, "step_text": _step_text(step),
            "iteration": iteration, "max_iter": max_iter,
            "loglik": progress.get("loglik"), "change": progress.get("change"),
            "fraction": 1.0 if done else min(iteration / max_iter, 1.0), "message": run.message,
            "analysis": analysis_state(run)}


def _run_or_404(run_id: int) -> CalibrationRun:
    try:
        return get_run(db_session(), run_id)
    except DomainError:
        abort(404, description=_("research.error.no_run", run=run_id))


@bp.get("/runs/<id:run_id>")
@role_required(*RESEARCH_ROLES)
def show(run_id: int) -> ResponseReturnValue:
    """One run: its settings and selection, a live progress bar, cancel, and its summary once done."""
    run = _run_or_404(run_id)
    _check_job(run)
    pset = run.parameter_set.name if run.parameter_set is not None else None
    published_for = list(db_session().scalars(select(TestWindow.code).where(
        TestWindow.parameter_set_id == run.parameter_set_id).order_by(TestWindow.code))) if pset else []
    html = render_template("research/run.html", run=run, progress=run_progress(run), parameter_set=pset,
                           published_for=published_for, links=_run_links(run))
    return strict_page(html)


@bp.get("/runs/<id:run_id>/progress.json")
@role_required(*RESEARCH_ROLES)
def progress(run_id: int) -> ResponseReturnValue:
    """The run's status and EM progress, polled by the page (static/research/run.js)."""
    run = _run_or_404(run_id)
    _check_job(run)
    body = run_progress(run)
    db_session().rollback()
    return jsonify(body)


@bp.post("/runs/<id:run_id>/cancel")
@role_required(*RESEARCH_ROLES)
def cancel(run_id: int) -> ResponseReturnValue:
    """Ask the run to stop (audited): a queued run ends at once, a running one at its next EM iteration."""
    check_csrf()
    _run_or_404(run_id)
    session = db_session()
    cancel_run(session, run_id, _actor())  # Conflict (409) when it has ended already
    session.commit()
    return redirect(url_for("research_runs.show", run_id=run_id), 303)
