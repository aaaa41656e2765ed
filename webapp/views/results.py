"""Census results on the web: the runs of each window and exports of every level, within the reader's scope."""
from __future__ import annotations

import io

from flask import Blueprint, abort, render_template, request, send_file
from sqlalchemy import select

from assessment.access import RESULT_ROLES, Scope
from assessment.errors import NotFound
from assessment.models import School
from assessment.results import current_run
from assessment.results_export import BREAKDOWNS, LEVELS, audit_export, result_table, write_table
from assessment.windows import list_windows

from ..extensions import db_session, services
from ..security import current_user, role_required

bp = Blueprint("results", __name__, url_prefix="/results")
_MIME = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _scope() -> Scope:
    user = current_user()
    assert user is not None  # role_required ran first
    return Scope.for_user(db_session(), user)


@bp.get("")
@role_required(*RESULT_ROLES)
def index():  # type: ignore[no-untyped-def]
    """Windows with a current run, and the exports this reader may take."""
    scope = _scope()
    session = db_session()
    windows = []
    for window in list_windows(session):
        try:
            run = current_run(session, window.code)
        except NotFound:
            run = None
        windows.append((window, run))
    levels = [lv for lv in LEVELS if scope.sees_all or lv not in ("school",) or scope.role == "school_admin"]
    return render_template("results/index.html", windows=windows, levels=levels, scope=scope)


@bp.get("/<code>/export.<fmt>")
@role_required(*RESULT_ROLES)
def export(code: str, fmt: str):  # type: ignore[no-untyped-def]
    """One level of the window's current run as CSV or XLSX (suppressed cells empty), audited."""
    if fmt not in _MIME:
        abort(404)
    level = request.args.get("level", "school")
    breakdown = request.args.get("breakdown", "none")
    if level not in LEVELS or breakdown not in BREAKDOWNS:
        abort(400, description=f"level must be one of {', '.join(LEVELS)} and breakdown one of {', '.join(BREAKDOWNS)}")
    scope = _scope()
    session = db_session()
    wanted = request.args.get("school")
    school_id = None
    if wanted is not None:
        school_id = session.scalar(select(School.id).where(School.source_id == wanted))
        if school_id is None:
            abort(404, description=f"no school {wanted!r}")
        scope.check_school(school_id)
    run = current_run(session, code)
    table = result_table(session, run, level, scope, secret_key=services().settings.secret_key, breakdown=breakdown,
                         school_id=school_id)
    buf = io.BytesIO()
    write_table(table, fmt, buf)
    user = current_user()
    audit_export(session, user.username if user else "?", run, level, scope, f"web:{code}:{level}.{fmt}",
                 len(table.rows))
    session.commit()
    buf.seek(0)
    response = send_file(buf, mimetype=_MIME[fmt], as_attachment=True,
                         download_name=f"ctcensus-{code}-{level}.{fmt}")
    response.headers["Cache-Control"] = "no-store"
    return response
