"""Design simulation page (issue 11.5): check a design before test day (admins and researchers).

GET shows the form (the bank's forms and a parameter set, or an uploaded design file); POST
runs the simulation here when it is short (about INLINE_SECONDS), else queues it on the
research queue and sends the browser to the job's page, which refreshes itself until the
report is there. Every run is audited; nothing is stored in the database.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import ServiceUnavailable

from assessment.design_file import parse_design
from assessment.design_runs import (
    INLINE_SECONDS,
    bank_design,
    design_choices,
    design_job_state,
    estimated_seconds,
    queue_design,
    record_design,
    report_dict,
    run_design,
)
from assessment.errors import DomainError, InvalidInput
from assessment.hotstate import REDIS_ERRORS
from assessment.jobs import workers_listening
from scoring.design import DesignSpec

from ..charts import ScatterPoint, recovery_scatter
from ..extensions import db_session, services
from ..i18n import gettext as _
from ..security import check_csrf, current_user, role_required

bp = Blueprint("research_design", __name__, url_prefix="/research")
ROLES = ("admin", "researcher")
WEB_MAX_REPLICATIONS = 200
MAX_FILE_BYTES = 512 * 1024
_FIELDS = {"n5": 2500, "n8": 2850, "schools5": 42, "schools8": 16, "replications": 20, "seed": 1}


@bp.after_request
def _private(response: Response) -> Response:
    """Research pages are never kept by a shared browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(values: dict[str, Any], *, error: str | None = None, report: dict[str, Any] | None = None,
          source: str = "", status: int = 200) -> ResponseReturnValue:
    return render_template("research/design.html", choices=design_choices(db_session()), values=values, error=error,
                           report=report, source=source, chart=_chart(report) if report else None), status


def _int_field(form: Any, name: str, low: int, high: int) -> int:
    raw = (form.get(name) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(_("design.error.whole", field=_(f"design.field.{name}"), low=low, high=high)) from None
    if not low <= value <= high:
        raise InvalidInput(_("design.error.whole", field=_(f"design.field.{name}"), low=low, high=high))
    return value


@bp.get("/design")
@role_required(*ROLES)
def design() -> ResponseReturnValue:
    return _page(dict(_FIELDS, source="bank", icc="0.15"))


@bp.post("/design")
@role_required(*ROLES)
def simulate() -> ResponseReturnValue:
    """Run (or queue) a simulation of the posted design; bad input: 400 with the form and the reason."""
    check_csrf()
    values: dict[str, Any] = {k: request.form.get(k, str(v)) for k, v in _FIELDS.items()}
    values |= {"source": request.form.get("source", "bank"), "icc": request.form.get("icc", "0.15"),
               "form_ids": request.form.getlist("form_id"), "parameter_set": request.form.get("parameter_set", "")}
    try:
        spec, source = _spec(values)
    except DomainError as exc:  # a bad file, number or form, an unknown parameter set: the form again, with why
        return _page(values, error=exc.message, status=exc.http_status)
    user = current_user()
    actor = user.username if user else "?"
    session = db_session()
    settings = services().settings
    if estimated_seconds(spec) <= INLINE_SECONDS:
        try:
            report = run_design(spec)
        except InvalidInput as exc:
            return _page(values, error=exc.message, status=422)
        record_design(session, actor, spec, source, ip=request.remote_addr or "")
        session.commit()
        return _page(values, report=report_dict(report), source=source)
    try:
        if workers_listening(settings) == 0:
            raise ServiceUnavailable(description=_("design.error.no_worker"), retry_after=30)
        job_id = queue_design(settings, spec, actor, source)
    except REDIS_ERRORS:
        raise ServiceUnavailable(description=_("design.error.no_queue"), retry_after=30) from None
    record_design(session, actor, spec, source, ip=request.remote_addr or "", job_id=job_id)
    session.commit()
    return redirect(url_for("research_design.job", job_id=job_id), code=303)


def _spec(values: dict[str, Any]) -> tuple[DesignSpec, str]:
    """The design of the posted form: an uploaded file, or the bank's forms with the form's numbers."""
    replications = _int_field(request.form, "replications", 2, WEB_MAX_REPLICATIONS)
    seed = _int_field(request.form, "seed", 0, 2**31 - 1)
    if values["source"] == "file":
        upload = request.files.get("design_file")
        if upload is None or not upload.filename:
            raise InvalidInput(_("design.error.no_file"))
        data = upload.stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise InvalidInput(_("design.error.big_file", kb=MAX_FILE_BYTES // 1024))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(_("design.error.encoding", name=upload.filename)) from None
        spec = parse_design(text, upload.filename)
        if spec.replications > WEB_MAX_REPLICATIONS:
            raise InvalidInput(_("design.error.whole", field=_("design.field.replications"), low=2,
                                 high=WEB_MAX_REPLICATIONS))
        return spec, upload.filename
    if values["source"] != "bank":
        abort(400, description="source: expected bank or file")
    try:
        icc = float(values["icc"])
    except ValueError:
        icc = -1.0
    if not 0.0 <= icc < 1.0:
        raise InvalidInput(_("design.error.icc"))
    n = {5: _int_field(request.form, "n5", 2, 500_000), 8: _int_field(request.form, "n8", 2, 500_000)}
    schools = {5: _int_field(request.form, "schools5", 1, n[5]), 8: _int_field(request.form, "schools8", 1, n[8])}
    try:
        form_ids = [int(f) for f in values["form_ids"] if f]
    except ValueError:
        raise InvalidInput(_("design.error.forms")) from None
    spec = bank_design(db_session(), n_per_grade=n, schools=schools, replications=replications, seed=seed, icc=icc,
                       form_ids=form_ids or None, parameter_set=values["parameter_set"] or None)
    return spec, "bank: " + ", ".join(f.name for f in spec.forms)


@bp.get("/design/jobs/<job_id>")
@role_required(*ROLES)
def job(job_id: str) -> ResponseReturnValue:
    """A queued simulation: its progress (the page refreshes itself), then its report."""
    try:
        state = design_job_state(services().settings, job_id)
    except REDIS_ERRORS:
        raise ServiceUnavailable(description=_("design.error.no_queue"), retry_after=30) from None
    report = state.report if state.status == "done" else None
    return render_template("research/design_job.html", state=state, report=report, source=state.source,
                           chart=_chart(report) if report else None)


def _chart(report: dict[str, Any] | None) -> Any:
    """True against mean estimated difficulty (b and thresholds), ± 1 SD over replications."""
    if report is None:
        return None
    rows = [r for r in report["items"] if r["parameter"].startswith("b")]
    points = [ScatterPoint(f"{r['item']} {r['parameter']}", r["true"], r["mean"], r["sd"]) for r in rows]
    b = next((s for s in report["summary"] if s["parameter"] == "b"), None)
    summary = _("design.chart.desc", n=len(points), rmse=f"{b['rmse']:.3f}" if b and b["rmse"] is not None else "—")
    return recovery_scatter(points, title=_("design.chart.title"), x_label=_("design.chart.x"),
                            y_label=_("design.chart.y"), identity_label=_("design.chart.identity"), summary=summary,
                            no_data_text=_("design.none"))
