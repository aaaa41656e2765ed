"""The audit viewer: who did what, when, filtered by actor, action and object (admins and researchers)."""
from __future__ import annotations

import io

from flask import Blueprint, Response, render_template, request, send_file

from assessment.audit_log import (
    AUDIT_ROLES,
    AuditFilter,
    audit_actions,
    audit_page,
    audit_table,
    record_audit_export,
    sees_addresses,
)
from assessment.results_export import write_table

from ..extensions import db_session
from ..security import current_user, role_required

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.after_request
def _private(response: Response) -> Response:
    """The trail names staff and what they touched: never kept by a shared browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _filters() -> AuditFilter:
    return AuditFilter.of(request.args.get("actor"), request.args.get("action"), request.args.get("target"))


def _admin() -> bool:
    user = current_user()
    return user is not None and sees_addresses(user.role)


@bp.get("")
@role_required(*AUDIT_ROLES)
def index() -> str:
    """One page of the trail, newest first (addresses for admins only)."""
    filters = _filters()
    session = db_session()
    page = audit_page(session, filters, page=request.args.get("page", 1, type=int) or 1, with_ip=_admin())
    return render_template("audit/index.html", page=page, filters=filters, actions=audit_actions(session),
                           with_ip=_admin())


@bp.get("/export.csv")
@role_required(*AUDIT_ROLES)
def export() -> Response:
    """The filtered trail as CSV (formula-safe), itself audited."""
    filters = _filters()
    session = db_session()
    table = audit_table(session, filters, with_ip=_admin())
    buf = io.BytesIO()
    write_table(table, "csv", buf)
    user = current_user()
    record_audit_export(session, user.username if user else "?", filters, "web:audit.csv", len(table.rows),
                        ip=request.remote_addr or "")
    session.commit()
    buf.seek(0)
    return send_file(buf, mimetype="text/csv; charset=utf-8", as_attachment=True, download_name="ctcensus-audit.csv")
