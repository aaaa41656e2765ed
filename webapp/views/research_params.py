"""Parameter sets on the web (issue 11.4): list, one set, compare two, link, publish/unpublish, re-run without
items, export; admins and researchers. Every change is a CSRF form post, audited by the domain service."""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from assessment import audit
from assessment.calibration_runs import mark_failed, rerun_request, start_run
from assessment.errors import Conflict, InvalidInput
from assessment.item_analysis_store import run_flags
from assessment.models import CalibrationRun, ParameterSet
from assessment.parameter_linking import LINK_METHODS, link_set
from assessment.parameter_publishing import publish_set, unconverged_source, unpublish_window
from assessment.parameter_sets import compare_sets, get_set_by_id, list_sets, set_arrays, set_summary, write_set_csv
from assessment.results import compute_results
from assessment.windows import list_windows

from ..extensions import db_session, services
from ..i18n import gettext as _
from ..security import check_csrf, current_user, role_required

__all__ = ["bp"]

bp = Blueprint("research_params", __name__, url_prefix="/research")
ROLES = ("admin", "researcher")


@bp.after_request
def _private(response: Response) -> Response:
    """Research pages: never kept by a shared browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _actor() -> str:
    user = current_user()
    assert user is not None  # role_required ran first
    return user.username


def _ip() -> str:
    return request.remote_addr or ""


def _expected(field: str = "expected") -> int | None:
    """The window's set the researcher saw on the page ("" = none); bad values are a 400 naming the field."""
    if field not in request.form:
        raise InvalidInput(f"{field}: missing; publish from the set's page, which says which set the window has")
    raw = request.form[field].strip()
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise InvalidInput(f"{field}: expected the id of the set the page showed; got {raw[:20]!r}")
    return int(raw)


@bp.get("/params")
@role_required(*ROLES)
def index() -> str:
    """Every set, newest first, and the form to compare two."""
    session = db_session()
    return render_template("research/params.html", sets=list_sets(session))


@bp.get("/params/<id:set_id>")
@role_required(*ROLES)
def show(set_id: int) -> str:
    """One set: origin and constants, groups, items with SEs, and its actions."""
    session = db_session()
    pset = get_set_by_id(session, set_id)
    summary = set_summary(session, pset)
    arrays = set_arrays(session, pset) if pset.parameters else None
    run = session.scalar(select(CalibrationRun).where(CalibrationRun.parameter_set_id == pset.id))
    windows = list_windows(session)
    names = dict(session.execute(select(ParameterSet.id, ParameterSet.name)).all())
    others = [s for s in names.values() if s != pset.name]
    # the re-run form lists the run's item columns (the names --exclude takes), the flagged ones ticked
    columns = [str(c) for c in (run.selection or {}).get("items") or []] if run is not None else []
    flags = run_flags(run) if run is not None else None
    return render_template("research/param_set.html", pset=pset, summary=summary, arrays=arrays, run=run,
                           windows=windows, set_names=names, others=sorted(others), methods=LINK_METHODS,
                           unconverged=unconverged_source(session, pset), columns=columns, flags=flags)


@bp.get("/params/compare")
@role_required(*ROLES)
def compare() -> ResponseReturnValue:
    """Two sets item by item (?a=NAME&b=NAME); &format=csv downloads the rows."""
    a, b = request.args.get("a", "").strip(), request.args.get("b", "").strip()
    if not a or not b:
        raise InvalidInput("compare: choose two parameter sets (a and b)")
    session = db_session()
    cmp = compare_sets(session, a, b)
    if request.args.get("format") == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["item", "parameter", a, b, "difference"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(cmp.rows())
        return Response(buf.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=compare.csv"})
    return render_template("research/params_compare.html", cmp=cmp)


@bp.get("/params/<id:set_id>/<any(params, groups):part>.csv")
@role_required(*ROLES)
def export(set_id: int, part: str) -> Response:
    """The set as `ctcensus calibrate` writes it: the parameters CSV, or its groups CSV (audited)."""
    session = db_session()
    pset = get_set_by_id(session, set_id)
    with tempfile.TemporaryDirectory() as tmp:
        params, groups = Path(tmp) / "params.csv", Path(tmp) / "params.groups.csv"
        n = write_set_csv(session, pset, params, groups)
        data = (params if part == "params" else groups).read_bytes()
    audit.record(session, _actor(), "params.export", pset.name, ip=_ip(), out=f"web:{part}.csv", items=n)
    session.commit()
    name = f"{pset.name}.csv" if part == "params" else f"{pset.name}.groups.csv"
    return send_file(io.BytesIO(data), mimetype="text/csv; charset=utf-8", as_attachment=True, download_name=name)


@bp.post("/params/<id:set_id>/link")
@role_required(*ROLES)
def link(set_id: int) -> ResponseReturnValue:
    """Link this set onto a base set through their anchors: a new draft set, shown next."""
    check_csrf()
    session = db_session()
    pset = get_set_by_id(session, set_id)
    new = link_set(session, pset.name, request.form.get("base", "").strip(), request.form.get("method", "").strip(),
                   _actor(), new_name=request.form.get("name", "").strip() or None, ip=_ip())
    session.commit()
    flash(_("params.linked", name=new.name), "ok")
    return redirect(url_for("research_params.show", set_id=new.id), code=303)


@bp.post("/params/<id:set_id>/publish")
@role_required(*ROLES)
def publish(set_id: int) -> ResponseReturnValue:
    """Publish this set for a window, if the window still has the set the page showed (else 409, nothing changed)."""
    check_csrf()
    session = db_session()
    pset = get_set_by_id(session, set_id)
    window = request.form.get("window", "").strip()
    outcome = publish_set(session, pset.name, window, _actor(), expected_set_id=_expected(f"expected_{window}"),
                          ip=_ip(), allow_unconverged=request.form.get("allow_unconverged") == "1")
    session.commit()
    flash(_("params.published", window=outcome.window, moved=", ".join(outcome.moved_items) or "-"), "ok")
    return redirect(url_for("research_params.show", set_id=set_id), code=303)


@bp.post("/params/windows/<code>/unpublish")
@role_required(*ROLES)
def unpublish(code: str) -> ResponseReturnValue:
    """Withdraw the window's latest publication (restores the set before it, moves its items back)."""
    check_csrf()
    session = db_session()
    outcome = unpublish_window(session, code, _actor(), expected_set_id=_expected(), ip=_ip())
    session.commit()
    flash(_("params.unpublished", window=outcome.window,
            name=outcome.parameter_set or _("params.provisional_items")), "ok")
    return redirect(url_for("research_params.index"), code=303)


@bp.post("/params/windows/<code>/recompute")
@role_required(*ROLES)
def recompute(code: str) -> ResponseReturnValue:
    """Recompute the window's census results with its published set (the same inputs give the stored run)."""
    check_csrf()
    session = db_session()
    svc = services()
    outcome = compute_results(session, code, svc.reporting_config(), min_cell_size=svc.settings.min_cell_size,
                              actor=_actor())
    session.commit()
    flash(_("params.recomputed", window=code, run=outcome.run.id, name=outcome.run.parameter_set.name), "ok")
    return redirect(url_for("research_params.index"), code=303)


@bp.post("/params/<id:set_id>/rerun")
@role_required(*ROLES)
def rerun(set_id: int) -> ResponseReturnValue:
    """Queue this set's calibration run again without the ticked items (the worker `ctcensus serve` starts runs it)."""
    from assessment.jobs import enqueue_calibration, workers_listening

    check_csrf()
    session = db_session()
    pset = get_set_by_id(session, set_id)
    run = session.scalar(select(CalibrationRun).where(CalibrationRun.parameter_set_id == pset.id))
    if run is None:
        raise InvalidInput(f"parameter set {pset.name!r} was not made by a calibration run; nothing to re-run")
    settings = services().settings
    request_ = rerun_request(session, run.id, request.form.get("name", "").strip(), request.form.getlist("exclude"))
    new = start_run(session, request_, _actor())
    session.commit()
    try:
        enqueue_calibration(settings, new.id)
    except Exception as exc:  # Redis gone: the run must not stay queued
        mark_failed(session, new.id, f"could not queue the run: {exc}")
        session.commit()
        raise Conflict(f"could not queue run {new.id} on Redis ({exc}); nothing stored") from None
    # `ctcensus serve` starts a worker; a run queued while none listens waits for the next one
    flash(_("params.rerun_queued", run=new.id, name=new.name) if workers_listening(settings)
          else _("params.rerun_waits", run=new.id, name=new.name), "ok")
    return redirect(url_for("research_params.show", set_id=set_id), code=303)

