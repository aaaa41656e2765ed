"""Census results on the web: dashboards (city, district, school, class, student report), their tables as
CSV/XLSX, the school report as PDF, and the exports of every level; all within the reader's scope."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request, send_file
from sqlalchemy import select

from assessment.access import RESULT_ROLES, Scope
from assessment.dashboards import Page, city_page, class_page, district_page, school_page, student_report
from assessment.errors import Forbidden, NotFound
from assessment.models import District, School, SchoolClass, ScoreRun
from assessment.responses_export import audit_responses_export, select_responses, write_responses_csv
from assessment.results import current_run
from assessment.results_export import BREAKDOWNS, LEVELS, audit_export, result_table, write_table
from assessment.windows import list_windows

from ..extensions import db_session, services
from ..i18n import current_language
from ..item_preview import item_preview
from ..pdf import PdfUnavailable, html_to_pdf
from ..results_charts import charts_for, dimension_labels, group_label, level_labels
from ..security import current_user, role_required

bp = Blueprint("results", __name__, url_prefix="/results")
_MIME = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
KINDS = ("district", "school", "class", "student")


# The pages show roster names and item text: scripts only from this site, so a name that slipped past
# escaping could still run nothing (charts carry style attributes, hence inline styles are allowed).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


@bp.after_request
def _private(response: Response) -> Response:
    """Results name schools, classes and children: never kept by a shared computer's browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    return response


def _scope() -> Scope:
    """The reader's scope, read once per request."""
    if "results_scope" not in g:
        user = current_user()
        assert user is not None  # role_required ran first
        g.results_scope = Scope.for_user(db_session(), user)
    scope: Scope = g.results_scope
    return scope


@bp.get("")
@role_required(*RESULT_ROLES)
def index() -> str:
    """Windows with a current run: the dashboards this reader may open, and the exports they may take."""
    scope = _scope()
    session = db_session()
    windows = []
    for window in list_windows(session):
        try:
            run = current_run(session, window.code)
        except NotFound:
            run = None
        windows.append((window, run))
    lang = current_language()
    districts: Sequence[Any] = []
    schools: Sequence[Any] = []
    classes: Sequence[Any] = []
    if scope.sees_all:
        districts = session.execute(select(District.source_id, District.name_zh, District.name_en)
                                    .order_by(District.source_id)).all()
    elif scope.role == "school_admin":
        schools = session.execute(select(School.source_id, School.name_zh, School.name_en)
                                  .where(School.id == scope.school_id)).all()
    else:
        classes = session.execute(select(SchoolClass.source_id, SchoolClass.name, SchoolClass.grade)
                                  .where(SchoolClass.id.in_(sorted(scope.class_ids) or [-1]))
                                  .order_by(SchoolClass.grade, SchoolClass.name)).all()
    levels = [lv for lv in LEVELS if scope.sees_all or lv not in ("school",) or scope.role == "school_admin"]
    return render_template("results/index.html", windows=windows, levels=levels, scope=scope, lang=lang,
                           districts=districts, schools=schools, classes=classes)


def _build(code: str, kind: str, key: str) -> tuple[ScoreRun, Page]:
    session = db_session()
    scope = _scope()
    run = current_run(session, code)
    lang = current_language()
    secret = services().settings.secret_key
    if kind == "city":
        return run, city_page(session, run, scope, lang=lang, secret_key=secret)
    if kind == "district":
        return run, district_page(session, run, scope, key, lang=lang, secret_key=secret)
    if kind == "school":
        return run, school_page(session, run, scope, key, lang=lang)
    if kind == "class":
        return run, class_page(session, run, scope, key, lang=lang)
    if kind == "student":
        return run, student_report(session, run, scope, key, lang=lang, config=services().reporting_config())
    abort(404)


def _render(code: str, kind: str, key: str, *, for_pdf: bool = False) -> str:
    _, page = _build(code, kind, key)
    config = services().reporting_config()
    scope = _scope()
    levels = level_labels(page, config)
    return render_template(f"results/{kind}.html", page=page, charts=charts_for(page, config), levels=levels,
                           level_name=dict(levels), dims=dimension_labels(config), group_label=group_label,
                           item_preview=item_preview,
                           for_pdf=for_pdf, min_cell_size=services().settings.min_cell_size,
                           scope_all=scope.sees_all, scope_school=scope.sees_all or scope.role == "school_admin")


@bp.get("/<code>/city")
@role_required(*RESULT_ROLES)
def city(code: str) -> str:
    """The bureau's city dashboard."""
    return _render(code, "city", "city")


@bp.get("/<code>/<kind>/<key>")
@role_required(*RESULT_ROLES)
def unit(code: str, kind: str, key: str) -> str:
    """A district, school or class dashboard, or one student's report."""
    if kind not in KINDS:
        abort(404)
    return _render(code, kind, key)


@bp.get("/<code>/school/<key>/report.pdf")
@role_required(*RESULT_ROLES)
def school_pdf(code: str, key: str) -> Response:
    """The school report as an A4 PDF (the page with its print styles), audited like every export."""
    html = _render(code, "school", key, for_pdf=True)
    try:
        data = html_to_pdf(html, base_url=request.url_root)
    except PdfUnavailable as exc:
        abort(503, description=str(exc))
    session = db_session()
    user = current_user()
    run = current_run(session, code)
    audit_export(session, user.username if user else "?", run, "school", _scope(), f"web:{code}:school:{key}.pdf", 1)
    session.commit()
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=f"ctcensus-{code}-{key}.pdf")
    return response


def _send_table(code: str, kind: str, key: str, table: str, fmt: str) -> Response:
    if fmt not in _MIME:
        abort(404)
    run, page = _build(code, kind, key)
    tables = page.tables()
    if table not in tables:
        abort(404, description=f"this page has no table {table!r}; it has {', '.join(sorted(tables))}")
    buf = io.BytesIO()
    write_table(tables[table], fmt, buf, sheet=table)
    user = current_user()
    session = db_session()
    audit_export(session, user.username if user else "?", run, kind, _scope(),
                 f"web:{code}:{kind}:{key}:{table}.{fmt}", len(tables[table].rows))
    session.commit()
    buf.seek(0)
    response = send_file(buf, mimetype=_MIME[fmt], as_attachment=True,
                         download_name=f"ctcensus-{code}-{kind}-{key}-{table}.{fmt}")
    return response


@bp.get("/<code>/city/tables/<table>.<fmt>")
@role_required(*RESULT_ROLES)
def city_table(code: str, table: str, fmt: str) -> Response:
    """One table of the city dashboard as CSV or XLSX."""
    return _send_table(code, "city", "city", table, fmt)


@bp.get("/<code>/<kind>/<key>/tables/<table>.<fmt>")
@role_required(*RESULT_ROLES)
def unit_table(code: str, kind: str, key: str, table: str, fmt: str) -> Response:
    """One table of a district, school, class or student page as CSV or XLSX."""
    if kind not in KINDS:
        abort(404)
    return _send_table(code, kind, key, table, fmt)


@bp.get("/<code>/export.<fmt>")
@role_required(*RESULT_ROLES)
def export(code: str, fmt: str) -> Response:
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
        if scope.pseudonymous:  # a real school id as the filter would tie that school to its pseudonym
            raise Forbidden("researchers' exports are pseudonymous and cover the whole city; "
                            "leave out ?school= (the rows name each school by its pseudonym)")
        school_id = session.scalar(select(School.id).where(School.source_id == wanted))
        if school_id is None:
            if not scope.sees_all:  # as the dashboards do: unknown and foreign schools answer alike
                raise Forbidden("you can only see results of your own school")
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
    return response


@bp.get("/<code>/responses.csv")
@role_required("researcher", "bureau")
def responses(code: str) -> Response:
    """The window's item scores with pseudonyms, as `ctcensus responses export` writes them (audited)."""
    session = db_session()
    selection = select_responses(session, code, secret_key=services().settings.secret_key,
                                 form_id=request.args.get("form", type=int), grade=request.args.get("grade", type=int))
    text = io.StringIO(newline="")
    write_responses_csv(selection, text)
    user = current_user()
    audit_responses_export(session, user.username if user else "?", selection, "csv", f"web:{code}:responses.csv")
    session.commit()
    return send_file(io.BytesIO(text.getvalue().encode("utf-8")), mimetype=_MIME["csv"], as_attachment=True,
                     download_name=f"ctcensus-{code}-responses.csv")
