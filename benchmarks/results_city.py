"""`results compute` for the demo city (~5,350 students) on the embedded default (SQLite), reads and writes included.

Usage::

    python benchmarks/results_city.py              # build the city in a temp instance, 3 timed runs
    python benchmarks/results_city.py --repeat 5 --profile

The city is built the way `ctcensus demo --no-serve` and `ctcensus demo-census
--window 113` build it (`prepare_demo`, then `simulate_census` in one
transaction) in a temporary instance folder with DATABASE_URL and REDIS_URL
unset, so the database is the SQLite file `instance/ctcensus.db`.

Ours: `compute_results` for window 113 in one transaction, commit included,
as `ctcensus results compute` runs it. compute_results reuses a stored run
with the same fingerprint, so before every timed run the window's stored runs
are deleted (their student scores and aggregates go with them, ON DELETE
CASCADE) and the computation is done afresh. The stages come from
compute_results' `progress` callback.

Reference, in the same process: the bare read of the answers table
(`SELECT attempt_id, item_pk, score FROM answers`) plus a bare EAP scoring of
the same matrix with `scoring.estimate_ability` (N(0, 1) prior): the least
any scoring of this window has to do.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import delete, func, select

WINDOW = "113"
STAGES = ("reading answers", "plausible values", "abilities", "group statistics", "storing", "commit")


def build_city(instance: Path) -> object:
    """The demo city sitting window 113, as the CLI builds it; returns the CLI Context."""
    for var in ("DATABASE_URL", "REDIS_URL", "CTCENSUS_REPORTING_CONFIG"):
        os.environ.pop(var, None)
    os.environ["CTCENSUS_INSTANCE"] = str(instance)
    from assessment.census_simulation import simulate_census
    from webapp.cli import prepare_demo
    from webapp.commands.common import Context

    ctx = Context()
    prepare_demo(ctx, census=False)  # the census is simulated below, in one transaction
    with ctx.transaction() as session:
        report = simulate_census(session, WINDOW, seed=113, actor="bench")
    print(f"city: {report.sessions} class sessions, {report.students} students sat the test "
          f"({report.absent} absent, {report.unfinished} unfinished, {report.timed_out} timed out), "
          f"{report.answers:,} answers; database {ctx.settings.database_url}")
    return ctx


def delete_runs(ctx: object) -> None:
    from assessment.models import ScoreRun, TestWindow

    with ctx.transaction() as session:  # type: ignore[attr-defined]
        wid = session.scalar(select(TestWindow.id).where(TestWindow.code == WINDOW))
        session.execute(delete(ScoreRun).where(ScoreRun.window_id == wid))


def timed_compute(ctx: object) -> tuple[float, dict[str, float], object]:
    """One fresh `results compute`: wall seconds, seconds per stage, the run's summary."""
    from assessment.reporting_config import load_reporting_config
    from assessment.results import compute_results

    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    config = load_reporting_config(ctx.settings.instance_path)  # type: ignore[attr-defined]
    with ctx.transaction() as session:  # type: ignore[attr-defined]
        marks.append(("reading answers", time.perf_counter()))
        outcome = compute_results(session, WINDOW, config, min_cell_size=ctx.settings.min_cell_size,  # type: ignore[attr-defined]
                                  actor="bench", progress=lambda step: marks.append((step, time.perf_counter())))
        assert not outcome.reused, "a stored run was reused: the timing would not be a computation"
        summary = outcome.run.summary
        marks.append(("commit", time.perf_counter()))
    t1 = time.perf_counter()
    # progress("reading answers") is called inside compute_results; keep the earlier mark (session start)
    stages: dict[str, float] = {}
    seen = [m for k, m in enumerate(marks) if not (k > 0 and m[0] == "reading answers")]
    for (name, start), (_, end) in zip(seen, seen[1:] + [("end", t1)], strict=True):
        stages[name] = stages.get(name, 0.0) + end - start
    return t1 - t0, stages, summary


def reference(ctx: object) -> tuple[float, float, float, float, int]:
    """Bare read of the answers table and bare EAP of the same matrix: (read s, EAP s, load_response_matrix s, max |EAP diff| vs stored, cells)."""
    from assessment.models import StudentScore
    from assessment.reporting_config import load_reporting_config
    from assessment.response_matrix import load_response_matrix
    from assessment.results import _item_parameters, current_run, window_parameter_set
    from assessment.windows import get_window
    from scoring import estimate_ability

    engine = ctx.engine  # type: ignore[attr-defined]
    config = load_reporting_config(ctx.settings.instance_path)  # type: ignore[attr-defined]
    with ctx.transaction() as session:  # type: ignore[attr-defined]
        window = get_window(session, WINDOW)
        t = time.perf_counter()
        matrix = load_response_matrix(session, window)
        t_matrix = time.perf_counter() - t
        params, columns = _item_parameters(session, window_parameter_set(session, window), matrix)
        run = current_run(session, WINDOW)
        stored_rows = session.scalar(select(func.count()).select_from(StudentScore)
                                     .where(StudentScore.run_id == run.id))
    x = matrix.for_scoring(config.not_reached)[:, columns]
    x = x[~np.isnan(x).all(axis=1)]
    assert x.shape[0] == stored_rows

    t = time.perf_counter()
    with engine.connect() as conn:
        answers = conn.exec_driver_sql("SELECT attempt_id, item_pk, score FROM answers").fetchall()
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    eap = estimate_ability(x, params, "eap")
    t_eap = time.perf_counter() - t
    assert np.isfinite(eap.theta).all()
    return t_read, t_eap, t_matrix, len(answers), x.shape[0] * x.shape[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timed fresh computations (median reported)")
    ap.add_argument("--profile", action="store_true", help="also print the top functions of one run under cProfile")
    ap.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} cores={os.cpu_count()} python {platform.python_version()} "
          f"numpy {np.__version__}")
    instance = Path(tempfile.mkdtemp(prefix="ctc-bench-city-"))
    try:
        t = time.perf_counter()
        ctx = build_city(instance)
        print(f"built in {time.perf_counter() - t:.1f} s (not timed below)")

        walls, per_stage, summary = [], [], None
        for k in range(args.repeat + 1):  # the first computation warms imports and caches; not counted
            delete_runs(ctx)
            wall, stages, summary = timed_compute(ctx)
            if k == 0:
                print(f"warm-up run: {wall:.2f} s")
                continue
            walls.append(wall)
            per_stage.append(stages)
            print(f"run {k}: {wall:.2f} s  " + "  ".join(f"{s} {stages.get(s, 0.0):.2f}" for s in STAGES))
        assert summary is not None
        print(f"scored {summary['students_scored']:,} students on {len(summary['items_scored'])} items; "
              f"cells {summary['cells']}; {summary['suppressed_rows']} aggregate rows suppressed")

        t_read, t_eap, t_matrix, n_answers, cells = reference(ctx)
        ours = statistics.median(walls)
        ref = t_read + t_eap
        print("\nwhere the time goes (median of the timed runs):")
        for s in STAGES:
            v = statistics.median(st.get(s, 0.0) for st in per_stage)
            print(f"  {s:<18s} {v:6.3f} s  {100 * v / ours:5.1f} %")
        print(f"  (load_response_matrix alone: {t_matrix:.3f} s)")
        print(f"\nours: compute_results, fresh, commit included   {ours:6.2f} s (median of {len(walls)}; "
              f"min {min(walls):.2f}, max {max(walls):.2f})")
        print(f"reference: bare read of {n_answers:,} answers   {t_read:6.3f} s")
        print(f"           bare EAP of the same matrix ({cells:,} cells) {t_eap:6.3f} s")
        print(f"           together                          {ref:6.3f} s")
        print(f"ratio ours / reference: {ours / ref:.1f}x    target <= 5 s: {'MET' if ours <= 5 else 'NOT MET'}")

        if args.profile:
            delete_runs(ctx)
            prof = cProfile.Profile()
            prof.enable()
            timed_compute(ctx)
            prof.disable()
            print("\ncProfile of one run (cumulative, top 25):")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        ctx.close()  # type: ignore[attr-defined]
    finally:
        if args.keep:
            print(f"instance kept at {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
