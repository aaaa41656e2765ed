"""Result tables for exports and pages, filtered by the reader's Scope inside the queries.

Levels: student, class, school, district, city. Aggregate tables carry the
unit's roster sourcedId (and its parents'), grade, subgroup, n, mean, sd, se,
the 95% interval, `suppressed` (values empty when true), one `pct_<level>`
(and its `_se`) per proficiency level and the D1-D4 profile; all on the
reporting scale. Researchers get stable pseudonyms instead of roster ids.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from . import audit
from .access import Scope, pseudonym
from .census_scoring import DIMENSIONS
from .errors import InvalidInput
from .models import District, ResultAggregate, School, SchoolClass, ScoreRun, Student, StudentScore

__all__ = ["BREAKDOWNS", "LEVELS", "ResultTable", "audit_export", "compare_runs", "csv_cell", "result_table",
           "write_table", "write_workbook"]

LEVELS = ("student", "class", "school", "district", "city")
BREAKDOWNS = ("none", "gender", "tags")


@dataclass(frozen=True)
class ResultTable:
    """Column names and rows (lists of plain values) of one export."""

    columns: tuple[str, ...]
    rows: list[list[Any]]


def _aggregate_query(run: ScoreRun, level: str, scope: Scope, breakdown: str, school_id: int | None) -> Any:
    q = select(ResultAggregate).where(ResultAggregate.run_id == run.id, ResultAggregate.level == level)
    if school_id is not None and level in ("school", "class"):
        q = q.where(ResultAggregate.school_id == school_id)
    if breakdown == "none":
        q = q.where(ResultAggregate.subgroup == "all")
    elif breakdown == "gender":
        q = q.where(or_(ResultAggregate.subgroup == "all", ResultAggregate.subgroup.like("gender:%")))
    else:
        q = q.where(or_(ResultAggregate.subgroup == "all", ResultAggregate.subgroup.like("tag:%"),
                        ResultAggregate.subgroup.like("not:%")))
    if not scope.sees_all and level in ("school", "class"):
        if scope.role == "school_admin":
            q = q.where(ResultAggregate.school_id == scope.school_id)
        elif level == "class":
            q = q.where(ResultAggregate.class_id.in_(sorted(scope.class_ids) or [-1]))
        else:  # a teacher reads class rows, not whole schools
            q = q.where(ResultAggregate.school_id == -1)
    return q.order_by(ResultAggregate.grade, ResultAggregate.unit, ResultAggregate.subgroup)


def _names(session: Session) -> tuple[dict[int, str], dict[int, str], dict[int, str], dict[int, int]]:
    districts = dict(session.execute(select(District.id, District.source_id)).all())
    schools = {s.id: (s.source_id, s.district_id) for s in session.execute(
        select(School.id, School.source_id, School.district_id)).all()}
    classes = dict(session.execute(select(SchoolClass.id, SchoolClass.source_id)).all())
    return (districts, {k: v[0] for k, v in schools.items()}, classes, {k: v[1] for k, v in schools.items()})


def result_table(
    session: Session,
    run: ScoreRun,
    level: str,
    scope: Scope,
    *,
    secret_key: str,
    breakdown: str = "none",
    level_codes: Sequence[str] = (),
    school_id: int | None = None,
) -> ResultTable:
    """The rows of `level` that `scope` may read (of one school when `school_id`), for CSV/XLSX or a page."""
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    if breakdown not in BREAKDOWNS:
        raise InvalidInput(f"breakdown must be one of {', '.join(BREAKDOWNS)}; got {breakdown!r}")
    codes = tuple(level_codes) or tuple(lv["code"] for lv in run.settings["reporting"]["levels"])
    districts, schools, classes, _ = _names(session)
    anon = scope.pseudonymous

    def name(kind: str, key: str) -> str:
        return pseudonym(secret_key, kind, key) if anon and kind in ("student", "class", "school") else key

    if level == "student":
        return _student_table(session, run, scope, name, districts, schools, classes, school_id)
    columns = [c for c in ("class", "school", "district") if LEVELS.index(c) >= LEVELS.index(level)]
    if level == "city":
        columns = ["city"]
    columns += ["grade", "subgroup", "n", "mean", "sd", "se", "ci_low", "ci_high", "sd_se", "suppressed"]
    columns += [f"pct_{c}" for c in codes] + [f"pct_{c}_se" for c in codes] + list(DIMENSIONS)
    rows = []
    for agg in session.scalars(_aggregate_query(run, level, scope, breakdown, school_id)):
        ids: list[Any] = []
        if level == "city":
            ids = ["city"]
        else:
            if level == "class":
                ids.append(name("class", agg.unit))
            if level in ("class", "school"):
                ids.append(name("school", schools.get(agg.school_id or -1, "")))
            ids.append(districts.get(agg.district_id or -1, ""))
        pct = agg.percents or {}
        dims = agg.dimensions or {}
        rows.append(ids + [agg.grade, agg.subgroup, agg.n, agg.mean, agg.sd, agg.se, agg.ci_low, agg.ci_high,
                           agg.sd_se, agg.suppressed]
                    + [(pct.get(c) or [None, None])[0] for c in codes] + [(pct.get(c) or [None, None])[1] for c in codes]
                    + [dims.get(d) for d in DIMENSIONS])
    return ResultTable(tuple(columns), rows)


def _student_table(session: Session, run: ScoreRun, scope: Scope, name: Any, districts: dict[int, str],
                   schools: dict[int, str], classes: dict[int, str], school_id: int | None) -> ResultTable:
    q = (select(StudentScore, Student.source_id).join(Student, StudentScore.student_id == Student.id)
         .where(StudentScore.run_id == run.id))
    if school_id is not None:
        q = q.where(StudentScore.school_id == school_id)
    if not scope.sees_all:
        if scope.role == "school_admin":
            q = q.where(StudentScore.school_id == scope.school_id)
        else:
            q = q.where(StudentScore.class_id.in_(sorted(scope.class_ids) or [-1]))
    q = q.order_by(StudentScore.grade, StudentScore.school_id, StudentScore.class_id, Student.source_id)
    n_pv = int(run.settings["reporting"]["plausible_values"])
    columns = ["student", "grade", "school", "class", "district", "gender", "theta", "theta_se", "scale_score",
               "scale_se", "level", "eap", "eap_se", "wle", "wle_se", *DIMENSIONS, "n_presented", "n_answered",
               "n_omitted", "n_not_reached", *[f"pv{k + 1}" for k in range(n_pv)]]
    base = run.summary["base"]
    scale = run.settings["reporting"]["scale"]
    factor = float(scale["sd"]) / float(base["theta_sd"])
    rows = []
    for s, source_id in session.execute(q):
        pvs = [round(float(scale["mean"]) + factor * (v - float(base["theta_mean"])), 2) for v in s.pvs]
        rows.append([name("student", source_id), s.grade, name("school", schools.get(s.school_id, "")),
                     name("class", classes.get(s.class_id, "")), districts.get(s.district_id, ""), s.gender,
                     s.wle, s.wle_se, s.scale_score, s.scale_se, s.level, s.eap, s.eap_se, s.wle, s.wle_se,
                     *[s.dimensions.get(d) for d in DIMENSIONS], s.n_presented, s.n_answered, s.n_omitted,
                     s.n_not_reached, *pvs])
    return ResultTable(tuple(columns), rows)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula (a name "=HYPERLINK(...)") gets a leading '."""
    value = _cell(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_table(table: ResultTable, fmt: str, out: Path | io.BytesIO, *, sheet: str = "results") -> None:
    """Write CSV (UTF-8) or XLSX; suppressed and missing values are empty cells."""
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows([[csv_cell(v) for v in row] for row in table.rows])
        data = buf.getvalue().encode("utf-8")
        if isinstance(out, io.BytesIO):
            out.write(data)
        else:
            Path(out).write_bytes(data)
        return
    if fmt == "xlsx":
        write_workbook([(sheet, table)], out)
        return
    raise InvalidInput(f"format must be csv or xlsx; got {fmt!r}")


def write_workbook(sheets: Sequence[tuple[str, ResultTable]], out: Path | io.BytesIO) -> None:
    """Write one XLSX with a sheet per (name, table); text is never read as a formula, missing values are empty."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    for name, table in sheets:
        ws = wb.create_sheet(name[:31])
        ws.append(list(table.columns))

        def xlsx_cell(value: Any, ws: Any = ws) -> Any:
            value = _cell(value)
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # text, never a formula, whatever it starts with
                return cell
            return value

        for row in table.rows:
            ws.append([xlsx_cell(v) for v in row])
    wb.save(out)


def audit_export(session: Session, actor: str, run: ScoreRun, level: str, scope: Scope, target: str, rows: int) -> None:
    """Every results export is audited: who took which rows of which run."""
    audit.record(session, actor, "results.export", target[:128], run_id=run.id, level=level, role=scope.role,
                 school_id=scope.school_id, rows=rows)


def compare_runs(
    session: Session,
    earlier: ScoreRun,
    later: ScoreRun,
    level: str,
    scope: Scope,
    *,
    secret_key: str,
) -> ResultTable:
    """Change in the mean between two runs on one scale (e.g. year over year), per unit and grade.

    The SE of a change is ``sqrt(se_1^2 + se_2^2)`` (independent cohorts; the
    linking error of the anchor items is not included). A unit suppressed in
    either run has no change.
    """
    if level == "student":
        raise InvalidInput("compare works on groups: class, school, district or city")
    scale_a = earlier.settings["reporting"]["scale"]
    scale_b = later.settings["reporting"]["scale"]
    if (scale_a["base_year"], scale_a["base_grade"], scale_a["mean"], scale_a["sd"]) != (
            scale_b["base_year"], scale_b["base_grade"], scale_b["mean"], scale_b["sd"]):
        raise InvalidInput(f"runs {earlier.id} and {later.id} are reported on different scales; recompute one of them "
                           "with the same reporting configuration")
    a = result_table(session, earlier, level, scope, secret_key=secret_key)
    b = result_table(session, later, level, scope, secret_key=secret_key)
    keys = [c for c in a.columns if c in ("class", "school", "district", "city")] + ["grade", "subgroup"]

    def index(t: ResultTable) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(r[t.columns.index(k)] for k in keys): dict(zip(t.columns, r, strict=True)) for r in t.rows}

    ia, ib = index(a), index(b)
    rows = []
    for key in sorted(set(ia) | set(ib), key=lambda k: tuple(str(v) for v in k)):
        ra, rb = ia.get(key), ib.get(key)
        hidden = not ra or not rb or ra["suppressed"] or rb["suppressed"]
        if hidden:
            rows.append([*key, None, None, None, None, None, None, None, None, True])
            continue
        assert ra is not None and rb is not None
        diff = rb["mean"] - ra["mean"]
        se = (ra["se"] ** 2 + rb["se"] ** 2) ** 0.5
        rows.append([*key, ra["mean"], ra["se"], rb["mean"], rb["se"], round(diff, 4), round(se, 4),
                     round(diff - 1.96 * se, 4), round(diff + 1.96 * se, 4), False])
    columns = (*keys, "mean_earlier", "se_earlier", "mean_later", "se_later", "change", "change_se", "ci_low",
               "ci_high", "suppressed")
    return ResultTable(columns, rows)
