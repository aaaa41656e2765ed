"""A calibration run of the whole demo city from the database to a stored draft parameter set (issue 11.2).

Usage::

    python benchmarks/calibration_run.py              # build the city in a temp instance, 3 timed runs + the queue path
    python benchmarks/calibration_run.py --repeat 5 --no-queue

It also times the run's item-analysis report (`assessment.item_analysis.analyse_run`, what
`/research/runs/<id>/analysis` and its XLSX compute on demand) against the same reference.

The city is built as `benchmarks/results_city.py` builds it (`prepare_demo`, then
`simulate_census` for window 113) in a temporary instance folder with
DATABASE_URL and REDIS_URL unset (SQLite file, embedded Redis); with them set,
that database and Redis are used instead.

Ours: a fresh run of window 113, grades 5 and 8 concurrently (model auto, grade
groups, every item free, Louis SEs), as the worker's job runs it: `start_run`
(committed), then `execute_run`: read the finished attempts
(`select_responses`), calibrate with progress and cancel checks, store the
parameter set, its item rows and the run's statistics, commit. The queue path
(`--queue`, default on) times `ctcensus calibrate --window 113 --name ...` as
a user runs it, through a real `ctcensus worker` process: queue, wait, summary.

Reference, in the same process: `scoring.calibrate` with the same settings on
the already-built in-memory matrix (the least any calibration of this window
has to do); the ratio is the database run's overhead.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

WINDOW = "113"
TARGET_SECONDS = 10.0


def build_city(instance: Path) -> object:
    """The demo city sitting window 113, as the CLI builds it; returns the CLI Context."""
    os.environ.pop("CTCENSUS_REPORTING_CONFIG", None)
    os.environ["CTCENSUS_INSTANCE"] = str(instance)
    from assessment.census_simulation import simulate_census
    from webapp.cli import prepare_demo
    from webapp.commands.common import Context

    ctx = Context()
    prepare_demo(ctx, census=False)
    with ctx.transaction() as session:
        report = simulate_census(session, WINDOW, seed=113, actor="bench")
    print(f"city: {report.students} students sat the test ({report.answers:,} answers); "
          f"database {ctx.settings.database_url.split('@')[-1]}")
    return ctx


def timed_run(ctx: object, name: str) -> tuple[float, dict[str, object]]:
    """One fresh run in this process (as the worker runs it): wall seconds and the run's result."""
    from assessment.calibration_runs import RunRequest, execute_run, get_run, start_run
    from assessment.states import CalibrationStatus

    t0 = time.perf_counter()
    with ctx.transaction() as session:  # type: ignore[attr-defined]
        run_id = start_run(session, RunRequest(window=WINDOW, name=name), actor="bench").id
    status = execute_run(ctx.factory, run_id, secret_key=ctx.settings.secret_key)  # type: ignore[attr-defined]
    wall = time.perf_counter() - t0
    assert status is CalibrationStatus.DONE, status
    with ctx.transaction() as session:  # type: ignore[attr-defined]
        result = dict(get_run(session, run_id).result or {})
    return wall, result


def reference(ctx: object, name: str) -> tuple[float, float]:
    """`scoring.calibrate` on the in-memory matrix: (seconds, max |difference| to the stored estimates)."""
    from sqlalchemy import select

    from assessment.models import ItemParameterRecord, ParameterSet
    from assessment.responses_export import select_responses
    from scoring import calibrate

    with ctx.transaction() as session:  # type: ignore[attr-defined]
        sel = select_responses(session, WINDOW, secret_key=ctx.settings.secret_key)  # type: ignore[attr-defined]
        pset = session.scalar(select(ParameterSet).where(ParameterSet.name == name))
        stored = {r.item_pk: r for r in session.scalars(select(ItemParameterRecord)
                                                         .where(ItemParameterRecord.parameter_set_id == pset.id))}
    x = sel.cells()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        res = calibrate(x, "auto", groups=sel.grades, item_names=sel.item_ids)
        seconds = time.perf_counter() - t
    diff = 0.0
    for j, pk in enumerate(sel.item_pks.tolist()):
        d = res.d[j][~np.isnan(res.d[j])]
        diff = max(diff, abs(stored[pk].a - res.a[j]), float(np.max(np.abs(np.subtract(stored[pk].d, d)))))
    return seconds, diff


def analysis_seconds(ctx: object, name: str, repeat: int) -> list[float]:
    """The item-analysis report of a done run (`analyse_run`, as its page and XLSX compute it): wall seconds."""
    from sqlalchemy import select

    from assessment.item_analysis import analyse_run
    from assessment.models import CalibrationRun

    walls = []
    for _ in range(repeat):
        with ctx.transaction() as session:  # type: ignore[attr-defined]
            run_id = session.scalar(select(CalibrationRun.id).where(CalibrationRun.name == name))
            t = time.perf_counter()
            report = analyse_run(session, run_id, secret_key=ctx.settings.secret_key)  # type: ignore[attr-defined]
            walls.append(time.perf_counter() - t)
    flagged = sum(1 for item in report.items if item.flags)
    print(f"item analysis of run {name}: {len(report.items)} items, {flagged} flagged")
    return walls


def queue_path(ctx: object, name: str) -> float:
    """`ctcensus calibrate --window 113 --name NAME` through a real worker process; wall seconds."""
    from click.testing import CliRunner

    from assessment.jobs import workers_listening
    from webapp.cli import cli
    from webapp.commands.common import Context

    settings = ctx.settings  # type: ignore[attr-defined]
    env = dict(os.environ)
    if not settings.redis_url:  # the worker attaches to this process's embedded Redis
        from assessment.hotstate import embedded_redis_url

        env["REDIS_URL"] = embedded_redis_url(settings.instance_path)
    worker = subprocess.Popen([sys.executable, "-m", "webapp.cli", "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        while workers_listening(settings) == 0:
            time.sleep(0.1)
        t = time.perf_counter()
        result = CliRunner().invoke(cli, ["calibrate", "--window", WINDOW, "--name", name, "--quiet"], obj=Context(),
                                    env={"REDIS_URL": env.get("REDIS_URL", "")})
        wall = time.perf_counter() - t
        assert result.exit_code == 0 and "no worker" not in result.output, result.output
        print("\n".join("    " + line for line in result.output.splitlines()))
        return wall
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timed fresh runs (median reported)")
    ap.add_argument("--no-queue", action="store_true", help="skip the CLI run through a worker process")
    ap.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} cores={os.cpu_count()} python {platform.python_version()} "
          f"numpy {np.__version__}")
    instance = Path(tempfile.mkdtemp(prefix="ctc-bench-calrun-"))
    try:
        t = time.perf_counter()
        ctx = build_city(instance)
        print(f"built in {time.perf_counter() - t:.1f} s (not timed below)")
        walls: list[float] = []
        result: dict[str, object] = {}
        for k in range(args.repeat + 1):  # the first run warms imports and caches; not counted
            wall, result = timed_run(ctx, f"bench-{k}")
            if k == 0:
                print(f"warm-up run: {wall:.2f} s")
                continue
            walls.append(wall)
            sec = result["seconds"]
            store = sec["total"] - sec["read"] - sec["calibrate"]  # type: ignore[index]
            print(f"run {k}: {wall:.2f} s  (start + stored item-analysis summary {wall - sec['total']:.2f}, "  # type: ignore[index]
                  f"read {sec['read']:.2f}, "  # type: ignore[index]
                  f"calibrate {sec['calibrate']:.2f}, store+commit {store:.2f})")  # type: ignore[index]
        print(f"calibrated {result['n_items']} items on {result['n_persons']:,} students: "
              f"{'converged' if result['converged'] else 'NOT converged'} in {result['n_iter']} EM iterations, "
              f"loglik {result['loglik']:.2f}")
        ref, diff = reference(ctx, f"bench-{args.repeat}")
        ours = statistics.median(walls)
        print(f"\nours: database -> stored draft parameter set   {ours:6.2f} s (median of {len(walls)}; "
              f"min {min(walls):.2f}, max {max(walls):.2f})")
        print(f"reference: scoring.calibrate on the in-memory matrix {ref:6.2f} s "
              f"(max |estimate difference| {diff:.1e})")
        print(f"ratio ours / reference: {ours / ref:.2f}x    target <= {TARGET_SECONDS:.0f} s: "
              f"{'MET' if ours <= TARGET_SECONDS else 'NOT MET'}")
        report_walls = analysis_seconds(ctx, f"bench-{args.repeat}", args.repeat)
        report = statistics.median(report_walls)
        print(f"item-analysis report of the run (CTT, fit, DIF, drift, curves' data) {report:6.2f} s (median of "
              f"{len(report_walls)}; min {min(report_walls):.2f}, max {max(report_walls):.2f}); "
              f"ratio to the reference calibration {report / ref:.2f}x")
        if not args.no_queue:
            wall = queue_path(ctx, "bench-queue")
            print(f"queue path: `ctcensus calibrate --window {WINDOW} --name bench-queue` through a worker process "
                  f"{wall:6.2f} s    target <= {TARGET_SECONDS:.0f} s: {'MET' if wall <= TARGET_SECONDS else 'NOT MET'}")
        ctx.close()  # type: ignore[attr-defined]
    finally:
        if args.keep:
            print(f"instance kept at {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
