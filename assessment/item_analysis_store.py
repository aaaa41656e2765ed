"""A compact per-item summary of a calibration run's item analysis, stored on the run (issue 11, items 3 and 7).

The full report (`item_analysis.analyse_run`) is computed on demand; the item
pages and the exclude-and-rerun form need a few of its numbers for many runs at
once, so the run keeps them in `run.result["item_statistics"]`, one entry per
item column of its data (the item id, or `ID-vN` when two versions were in it):

    {"item_pk", "n", "p", "r" (item-rest), "a", "b" (one per step), "infit", "outfit", "sx2_p",
     "dif_gender" (ETS class), "dif_grade" (class or null), "drift" (Δb or null), "flags": [{"code", "reason"}]}

and `run.result["item_analysis"]` says where that stands: pending (the run is done,
its worker is computing the analysis), stored, or failed (with why). The worker stores
it right after a run ends done (`calibration_runs.execute_run`); a failure never fails
the run: it is logged and noted in the run's message. Runs done before this existed
get theirs with `ctcensus analysis RUN_ID --store` (or `--store --missing` for all).
Numbers are rounded (`DECIMALS`, p-values to `P_DIGITS` significant digits): the
stored summary is exactly `item_summaries` of the on-demand report.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from . import audit
from .db import utcnow
from .errors import NotFound
from .item_analysis import Flag, ItemAnalysis, ItemRow, analyse_run
from .models import CalibrationRun
from .results import software_version
from .states import CalibrationStatus

__all__ = ["DECIMALS", "P_DIGITS", "STATE_KEY", "STATISTICS_KEY", "analysis_state", "item_summaries",
           "run_flags", "runs_without_statistics", "store_after_run", "store_item_statistics",
           "write_item_statistics"]

STATISTICS_KEY = "item_statistics"
STATE_KEY = "item_analysis"
DECIMALS = 4
P_DIGITS = 4

log = logging.getLogger(__name__)


def _round(value: float | None, decimals: int = DECIMALS) -> float | None:
    return None if value is None else round(float(value), decimals)


def _round_p(value: float | None) -> float | None:
    """A p-value to `P_DIGITS` significant digits (1e-12 stays 1e-12, not 0)."""
    if value is None:
        return None
    return float(f"{value:.{P_DIGITS}g}") if value > 0 else 0.0


def _summary(row: ItemRow) -> dict[str, Any]:
    return {"item_pk": row.item_pk, "n": row.n, "p": _round(row.p_value), "r": _round(row.item_rest_r),
            "a": _round(row.a), "b": [_round(v) for v in row.b], "infit": _round(row.infit),
            "outfit": _round(row.outfit), "sx2_p": _round_p(row.s_x2_p), "dif_gender": row.dif_gender,
            "dif_grade": row.dif_grade, "drift": _round(row.drift),
            "flags": [{"code": f.code, "reason": f.reason} for f in row.flags]}


def item_summaries(analysis: ItemAnalysis) -> dict[str, dict[str, Any]]:
    """{item column: compact statistics} of a report, as the run stores them."""
    return {row.item_id: _summary(row) for row in analysis.items}


def analysis_state(run: CalibrationRun) -> str | None:
    """pending / stored / failed, or None when the run never had its item statistics computed."""
    state = (run.result or {}).get(STATE_KEY)
    if isinstance(state, dict) and state.get("state") in ("pending", "stored", "failed"):
        return str(state["state"])
    return "stored" if isinstance((run.result or {}).get(STATISTICS_KEY), dict) else None


def write_item_statistics(session: Session, run_id: int, analysis: ItemAnalysis, *, seconds: float | None = None,
                          actor: str | None = None) -> CalibrationRun:
    """Put the report's summary on the run, in the caller's transaction (audited when a person asked for it)."""
    run = session.get(CalibrationRun, run_id)
    if run is None:
        raise NotFound(f"no calibration run {run_id}; list them with `ctcensus calibrate --list`")
    s = analysis.summary
    state = {"state": "stored", "at": utcnow().isoformat(), "software_version": software_version(),
             "n_students": s.n_students, "previous_set": s.previous_set, "data_changed": s.data_changed,
             "flagged": [r.item_id for r in analysis.flagged], "seconds": _round(seconds, 3)}
    # a new dict: the JSON column only sees a replaced value, not one changed in place
    run.result = dict(run.result or {}) | {STATISTICS_KEY: item_summaries(analysis), STATE_KEY: state}
    if actor is not None:
        audit.record(session, actor, "analysis.store", f"run {run_id}", run_id=run_id, items=s.n_items,
                     flagged=len(analysis.flagged))
    return run


def store_item_statistics(factory: sessionmaker[Session], run_id: int, *, secret_key: str,
                          actor: str | None = None) -> ItemAnalysis:
    """Compute a done run's item analysis and store its summary on the run (audited when `actor` asks for it).

    The analysis reads in a session of its own that it ends before the short write:
    no transaction stays open while it computes (SQLite writers would wait on it).
    NotFound / Conflict (not done, set deleted) as `analyse_run`.
    """
    started = time.perf_counter()
    with factory() as session:
        analysis = analyse_run(session, run_id, secret_key=secret_key)
        session.rollback()
    with factory() as session, session.begin():
        write_item_statistics(session, run_id, analysis, seconds=time.perf_counter() - started, actor=actor)
    return analysis


def store_after_run(factory: sessionmaker[Session], run_id: int, *, secret_key: str) -> bool:
    """The worker's last step of a done run: store its item statistics; a failure is logged and noted, never raised.

    Returns whether the statistics were stored. The run stays done either way.
    """
    try:
        store_item_statistics(factory, run_id, secret_key=secret_key)
        return True
    except BaseException as exc:  # the analysis is an extra: the run has its parameter set already
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        log.warning("calibration run %s: item analysis not stored: %s", run_id, reason, exc_info=True)
        note = (f"item analysis not stored ({type(exc).__name__}: {reason}); the run is done; "
                f"retry with `ctcensus analysis {run_id} --store`")
        with factory() as session, session.begin():
            run = session.get(CalibrationRun, run_id)
            if run is not None:
                run.message = "\n".join(m for m in (run.message, note) if m)
                run.result = dict(run.result or {}) | {STATE_KEY: {"state": "failed", "at": utcnow().isoformat(),
                                                                   "message": reason[:500]}}
        if not isinstance(exc, Exception):  # Ctrl+C, exit: noted, and on its way
            raise
        return False


def run_flags(run: CalibrationRun) -> dict[str, tuple[Flag, ...]] | None:
    """{item column: its flags} from the run's stored summary (flagged items only), or None when none is stored."""
    stats = (run.result or {}).get(STATISTICS_KEY)
    if not isinstance(stats, dict):
        return None
    out = {}
    for column, entry in stats.items():
        flags = entry.get("flags") if isinstance(entry, dict) else None
        if flags:
            out[str(column)] = tuple(Flag(str(f.get("code", "")), str(f.get("reason", ""))) for f in flags
                                     if isinstance(f, dict))
    return out


def runs_without_statistics(session: Session) -> list[int]:
    """Done runs with a parameter set and no stored item statistics (oldest first): what a backfill fills in."""
    runs = session.scalars(select(CalibrationRun).where(CalibrationRun.status == CalibrationStatus.DONE,
                                                        CalibrationRun.parameter_set_id.is_not(None))
                           .order_by(CalibrationRun.id))
    return [run.id for run in runs if analysis_state(run) != "stored"]

