"""The item-analysis report as tables: an XLSX (summary, items, ctt, distractors, fit, dif, flags) and JSON.

The page, the XLSX download and `ctcensus analysis` show the same numbers: all of
them come from these tables or from the `ItemAnalysis` they are built from.
Every download is audited (`analysis.export`).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from . import audit
from .item_analysis import (
    DIF_FLAG_CLASSES,
    DRIFT_LOGITS,
    FIT_MS_RANGE,
    MIN_ITEM_REST_R,
    MIN_SLOPE,
    SX2_ALPHA,
    ItemAnalysis,
)
from .results_export import ResultTable, write_workbook

__all__ = ["SHEETS", "analysis_json", "analysis_tables", "audit_analysis_export", "write_analysis_xlsx"]

SHEETS = ("summary", "items", "ctt", "distractors", "fit", "dif", "flags")


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _joined(values: tuple[float | None, ...], digits: int = 4) -> str:
    return " ".join("" if v is None else f"{v:.{digits}f}" for v in values)


def _summary_table(analysis: ItemAnalysis) -> ResultTable:
    s = analysis.summary
    rows: list[list[Any]] = [
        ["run", s.run_id], ["parameter set", s.name], ["window", s.window], ["academic year", s.academic_year],
        ["grade", s.grade if s.grade is not None else "all"], ["model setting", s.model],
        ["models", ", ".join(f"{m} {n}" for m, n in s.models.items())], ["students", s.n_students],
        ["items", s.n_items], ["converged", s.converged], ["EM iterations", s.n_iter],
        ["log-likelihood", _r(s.loglik, 3)], ["AIC", _r(s.aic, 2)], ["BIC", _r(s.bic, 2)],
    ]
    rows += [[f"latent distribution {g['group']}", f"N({g['mean']:.3f}, {g['sd']:.3f}^2), n {g.get('n')}"]
             for g in s.groups]
    rows += [[f"alpha, form {form}", _r(alpha, 3)] for form, alpha in sorted(s.form_alpha.items())]
    rows += [["rows calibrated", s.n_then], ["rows now", s.n_now], ["data changed since the run", s.data_changed],
             ["previous year's set", s.previous_set or "none published: no drift check"]]
    if s.drift_link is not None:
        rows.append(["drift link (Stocking-Lord)", f"A {s.drift_link['A']:.4f}, B {s.drift_link['B']:.4f}, "
                                                   f"{s.drift_link['anchors']} of {s.drift_link['common']} anchors"])
    rows += [["rule: low discrimination", f"item-rest r < {MIN_ITEM_REST_R} or a < {MIN_SLOPE}"],
             ["rule: misfit", f"infit or outfit outside {FIT_MS_RANGE[0]}-{FIT_MS_RANGE[1]}, or S-X2 p "
                              f"(Benjamini-Hochberg adjusted) < {SX2_ALPHA}"],
             ["rule: DIF", f"ETS class {' or '.join(DIF_FLAG_CLASSES)} (gender F vs M; grade, anchors only)"],
             ["rule: drift", f"|delta b| > {DRIFT_LOGITS} logit after linking onto the previous year's set"]]
    rows += [["warning", w] for w in s.warnings]
    return ResultTable(("field", "value"), rows)


def analysis_tables(analysis: ItemAnalysis) -> list[tuple[str, ResultTable]]:
    """The report's sheets, in `SHEETS` order."""
    items = ResultTable(
        ("item", "type", "dimension", "anchor", "max_score", "model", "fixed", "n", "p", "item_rest_r", "a", "se_a",
         "b", "d", "se_d", "c", "se_c", "infit", "outfit", "s_x2_p", "dif_gender", "dif_grade", "drift", "flags"),
        [[r.item_id, r.type, r.dimension, r.anchor, r.max_score, r.model, r.fixed, r.n, _r(r.p_value),
          _r(r.item_rest_r), _r(r.a), _r(r.se_a), _joined(r.b), _joined(r.d), _joined(r.se_d), _r(r.c), _r(r.se_c),
          _r(r.infit), _r(r.outfit), _r(r.s_x2_p, 6), r.dif_gender, r.dif_grade, _r(r.drift),
          " ".join(r.flag_codes)] for r in analysis.items])
    ctt = ResultTable(
        ("form", "item", "n", "p", "item_rest_r", "alpha_if_deleted", "alpha_of_form"),
        [[form, item, n, _r(p), _r(r), _r(ad), _r(analysis.summary.form_alpha.get(form))]
         for form, item, n, p, r, ad in analysis.ctt_forms])
    distractors = ResultTable(
        ("item", "option", "key", "count", "percent", "upper_27_percent", "lower_27_percent"),
        [[d.item_id, d.option, d.key, d.count, _r(d.percent, 2), _r(d.upper_percent, 2), _r(d.lower_percent, 2)]
         for d in analysis.distractors])
    fit = ResultTable(
        ("item", "infit", "outfit", "s_x2", "df", "p", "p_adjusted"),
        [[r.item_id, _r(r.infit), _r(r.outfit), _r(r.s_x2, 3), r.s_x2_df, _r(r.s_x2_p, 6), _r(r.s_x2_q, 6)]
         for r in analysis.items])
    dif = ResultTable(
        ("item", "comparison", "focal", "reference", "n_focal", "n_reference", "mh_d_dif_or_smd", "se", "chi_square",
         "p", "ets_class"),
        [[d.item_id, d.comparison, d.focal, d.reference, d.n_focal, d.n_reference, _r(d.statistic), _r(d.se),
          _r(d.chi_square, 3), _r(d.p_value, 6), d.ets_class] for d in analysis.dif])
    flags = ResultTable(("item", "flag", "reason"),
                        [[r.item_id, f.code, f.reason] for r in analysis.items for f in r.flags])
    return list(zip(SHEETS, (_summary_table(analysis), items, ctt, distractors, fit, dif, flags), strict=True))


def write_analysis_xlsx(analysis: ItemAnalysis, out: Path | io.BytesIO) -> None:
    """The report as one workbook, a sheet per table."""
    write_workbook(analysis_tables(analysis), out)


def analysis_json(analysis: ItemAnalysis) -> dict[str, Any]:
    """The report's tables as plain data (`ctcensus analysis --json`), curves left out."""
    return {name: [dict(zip(table.columns, row, strict=True)) for row in table.rows]
            for name, table in analysis_tables(analysis)}


def audit_analysis_export(session: Session, actor: str, analysis: ItemAnalysis, target: str, *, ip: str = "") -> None:
    """Every download of a report is audited: who took which run's item statistics."""
    s = analysis.summary
    audit.record(session, actor, "analysis.export", target[:128], ip=ip, run_id=s.run_id, parameter_set=s.name,
                 window=s.window, items=s.n_items, flagged=len(analysis.flagged))
