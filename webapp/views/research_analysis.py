"""The item-analysis report of a calibration run (issue 11.3): the page and its XLSX (admins and researchers)."""
from __future__ import annotations

import io

from flask import Blueprint, Response, render_template, request, send_file, url_for

from assessment.calibration_runs import get_run
from assessment.errors import Conflict, NotFound
from assessment.item_analysis import (
    DIF_FLAG_CLASSES,
    DRIFT_LOGITS,
    FIT_MS_RANGE,
    MIN_ITEM_REST_R,
    MIN_SLOPE,
    SX2_ALPHA,
    ItemAnalysis,
    analyse_run,
)
from assessment.item_analysis_export import audit_analysis_export, write_analysis_xlsx
from assessment.states import CalibrationStatus

from ..analysis_charts import item_charts, test_information_chart
from ..extensions import db_session, services
from ..i18n import gettext as _
from ..security import current_user, role_required

bp = Blueprint("research_analysis", __name__, url_prefix="/research")
ANALYSIS_ROLES = ("admin", "researcher")
RULES = {"min_r": MIN_ITEM_REST_R, "min_a": MIN_SLOPE, "fit_lo": FIT_MS_RANGE[0], "fit_hi": FIT_MS_RANGE[1],
         "sx2_alpha": SX2_ALPHA, "dif": "/".join(DIF_FLAG_CLASSES), "drift": DRIFT_LOGITS}


class _Refused(Exception):
    """The report cannot be shown: an HTTP status and a message in the reader's language."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@bp.after_request
def _private(response: Response) -> Response:
    """Item statistics of unpublished items: never kept by a shared browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(_Refused)
def _refused(exc: _Refused) -> tuple[str, int]:
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


def _analysis(run_id: int) -> ItemAnalysis:
    session = db_session()
    try:
        run = get_run(session, run_id)
    except NotFound:
        raise _Refused(404, _("analysis.no_run", run=run_id)) from None
    if run.status != CalibrationStatus.DONE:
        raise _Refused(409, _("analysis.not_done", run=run_id, status=_("analysis.status." + str(run.status))))
    try:
        return analyse_run(session, run_id, secret_key=services().settings.secret_key)
    except Conflict as exc:
        raise _Refused(409, exc.message) from None


@bp.get("/runs/<id:run_id>/analysis")
@role_required(*ANALYSIS_ROLES)
def analysis(run_id: int) -> str:
    """The report: summary, the item table with its flags, and each item's curves."""
    report = _analysis(run_id)
    set_id = get_run(db_session(), run_id).parameter_set_id
    set_url = url_for("research_params.show", set_id=set_id) if set_id is not None else None
    return render_template("research/analysis.html", a=report, s=report.summary, charts=item_charts(report),
                           test_info=test_information_chart(report), rules=RULES, set_url=set_url)


@bp.get("/runs/<id:run_id>/analysis.xlsx")
@role_required(*ANALYSIS_ROLES)
def analysis_xlsx(run_id: int) -> Response:
    """The report's tables as one workbook (summary, items, ctt, distractors, fit, dif, flags), audited."""
    report = _analysis(run_id)
    buf = io.BytesIO()
    write_analysis_xlsx(report, buf)
    user = current_user()
    session = db_session()
    audit_analysis_export(session, user.username if user else "?", report, f"web:run {run_id}:analysis.xlsx",
                          ip=request.remote_addr or "")
    session.commit()
    buf.seek(0)
    return send_file(buf, as_attachment=True, download_name=f"ctcensus-run-{run_id}-item-analysis.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
