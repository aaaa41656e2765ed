"""The per-item summary a done run stores (issue 11.3/11.7): written by the run's own job, equal to the on-demand
report's numbers, flags with their reasons; a failing analysis leaves the run done; the backfill of older runs."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assessment.calibration_runs import RunRequest, execute_run, get_run, start_run
from assessment.db import make_session_factory
from assessment.item_analysis import analyse_run
from assessment.item_analysis_store import (
    STATISTICS_KEY,
    analysis_state,
    item_summaries,
    run_flags,
    runs_without_statistics,
    store_item_statistics,
)
from assessment.models import Answer, AuditEntry, CalibrationRun
from assessment.states import CalibrationStatus

from .test_item_analysis import DIF, DRIFTED, MISFIT, SECRET, analysed_census


def _factory(db: Session):  # type: ignore[no-untyped-def]
    return make_session_factory(db.get_bind())  # type: ignore[arg-type]


def test_the_run_stores_the_summary_of_its_analysis_equal_to_the_report(db: Session) -> None:
    run_id = analysed_census(db)  # execute_run, as the worker's job runs it
    run = get_run(db, run_id)
    assert run.status is CalibrationStatus.DONE and analysis_state(run) == "stored"
    stored = run.result[STATISTICS_KEY]  # type: ignore[index]
    state = run.result["item_analysis"]  # type: ignore[index]
    assert state["flagged"] and state["previous_set"] == "published-113" and state["seconds"] > 0
    assert set(stored) == set(run.selection["items"]) and len(stored) == 36
    report = analyse_run(db, run_id, secret_key=SECRET)
    db.rollback()
    assert stored == item_summaries(report)  # the stored numbers are the report's, as stored
    for row in report.items:  # ...and the report's within the rounding
        s = stored[row.item_id]
        assert s["item_pk"] == row.item_pk and s["n"] == row.n
        assert s["p"] == pytest.approx(row.p_value, abs=5e-5) and s["r"] == pytest.approx(row.item_rest_r, abs=5e-5)
        assert s["a"] == pytest.approx(row.a, abs=5e-5) and s["b"] == pytest.approx(list(row.b), abs=5e-5)
        assert s["infit"] == pytest.approx(row.infit, abs=5e-5) and s["outfit"] == pytest.approx(row.outfit, abs=5e-5)
        assert s["sx2_p"] == pytest.approx(row.s_x2_p, rel=1e-3)
        assert (s["dif_gender"], s["dif_grade"]) == (row.dif_gender, row.dif_grade)
        assert s["drift"] == (None if row.drift is None else pytest.approx(row.drift, abs=5e-5))
        assert [f["code"] for f in s["flags"]] == list(row.flag_codes)
    assert stored[DIF]["dif_gender"] == "C" and stored[DIF]["dif_grade"] is None  # not an anchor
    assert stored[DRIFTED]["drift"] > 0.5 and stored[DRIFTED]["dif_grade"] in ("A", "B", "AA", "BB")
    flags = run_flags(run)
    assert flags is not None and set(flags) == {MISFIT, DIF, DRIFTED}
    assert "misfit" in {f.code for f in flags[MISFIT]} and flags[DIF][0].code == "dif"
    assert "gender C" in flags[DIF][0].reason and "Δb" in flags[DRIFTED][0].reason
    assert runs_without_statistics(db) == []


def test_a_failing_analysis_leaves_the_run_done_with_a_note_and_the_backfill_fills_it_in(db: Session) -> None:
    run_id = analysed_census(db, n_classes=4, per_class=40, previous=False)
    run = get_run(db, run_id)
    # a run done before the summary existed: no statistics, nothing flagged known
    run.result = {k: v for k, v in (run.result or {}).items() if k not in (STATISTICS_KEY, "item_analysis")}
    db.commit()
    assert analysis_state(run) is None and run_flags(run) is None
    assert runs_without_statistics(db) == [run_id]
    db.rollback()
    report = store_item_statistics(_factory(db), run_id, secret_key=SECRET, actor="cli:test")
    db.expire_all()
    run = get_run(db, run_id)
    assert analysis_state(run) == "stored" and run.result[STATISTICS_KEY] == item_summaries(report)  # type: ignore[index]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "analysis.store"))
    assert entry is not None and entry.actor == "cli:test" and entry.detail["run_id"] == run_id
    assert runs_without_statistics(db) == []

    # a second run whose window loses every answer while it calibrates: its analysis cannot read the data again,
    # and the run is still done, with its parameter set and a note saying how to retry
    db.rollback()
    again = start_run(db, RunRequest(window="114", name="cal-114-b"), actor="test")
    db.commit()
    factory = _factory(db)

    def wipe_answers(iteration: int) -> bool:
        if iteration == 1:
            with factory() as session, session.begin():
                session.execute(delete(Answer))
        return False

    assert execute_run(factory, again.id, secret_key=SECRET, should_cancel=wipe_answers) is CalibrationStatus.DONE
    db.expire_all()
    run = db.get(CalibrationRun, again.id)
    assert run is not None and run.status is CalibrationStatus.DONE and run.parameter_set is not None
    assert analysis_state(run) == "failed" and STATISTICS_KEY not in (run.result or {})
    assert "item analysis not stored (InvalidInput: window 114 has no finished attempt" in run.message
    assert f"ctcensus analysis {again.id} --store" in run.message
    assert runs_without_statistics(db) == [again.id]
