"""`ctcensus calibrate --window CODE --name NAME`: calibration runs from the database (issue 11.2), and `ctcensus worker`.

The run is recorded, queued on Redis (RQ) for the worker `ctcensus serve` starts
(or `ctcensus worker`), and the command waits, showing the EM's progress, until
the run ends, then prints its summary; `--no-wait` only queues it. When no worker
is running (plain CLI use) the command runs the job in its own process (said so on
stderr), as `--here` does; `--no-wait` then refuses, since nobody would take the job.
Ctrl+C while waiting cancels the run. Bad input: one line `Error: ...`, exit
status 1 (2 for usage errors), nothing stored.
"""
from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session
from tqdm import tqdm

from .common import Context, cli_actor, echo_json

__all__ = ["calibrate_from_database", "cancel_calibration", "list_calibrations", "rerun_calibration", "show_calibration",
           "worker_command"]

POLL_SECONDS = 0.2


def _ctx() -> Context:
    return click.get_current_context().ensure_object(Context)


def calibrate_from_database(
    *, window: str, grade: int | None, model: str, group_column: str, anchors: str, anchor_set: str | None, name: str,
    reference_group: str | None, max_iter: int, tol: float, se: bool, no_wait: bool, here: bool, as_json: bool,
    quiet: bool,
) -> None:
    """Record, queue (or run here) and, unless --no-wait, wait for a calibration run; print its summary."""
    from assessment.calibration_runs import RunRequest

    ctx = _ctx()
    ref: int | None = None
    if reference_group is not None:
        try:
            ref = int(reference_group)
        except ValueError:
            raise click.UsageError(f"--reference-group: expected a grade, e.g. 5; got {reference_group!r}") from None
    request = RunRequest(window=window, name=name, grade=grade, model=model, group_column=group_column,
                         anchors=anchors, anchor_set=anchor_set, reference_group=ref, max_iter=max_iter, tol=tol,
                         se=se)
    _launch(ctx, lambda session: request, no_wait=no_wait, here=here, as_json=as_json, quiet=quiet)


def rerun_calibration(*, run_id: int, exclude: tuple[str, ...], name: str, no_wait: bool, here: bool, as_json: bool,
                      quiet: bool) -> None:
    """`ctcensus calibrate --rerun RUN_ID --exclude ITEM[,ITEM...] --name NEW`: the run again without those items."""
    from assessment.calibration_runs import rerun_request

    items = tuple(part for value in exclude for part in value.split(","))
    _launch(_ctx(), lambda session: rerun_request(session, run_id, name, items), no_wait=no_wait, here=here,
            as_json=as_json, quiet=quiet)


def _launch(ctx: Context, make_request: Callable[[Session], Any], *, no_wait: bool, here: bool, as_json: bool,
            quiet: bool) -> None:
    """Record the run (queue it, or run it here), wait unless --no-wait, print its summary."""
    from assessment.calibration_runs import start_run
    from assessment.jobs import enqueue_calibration, workers_listening

    workers = 0 if here else workers_listening(ctx.settings)
    if no_wait and workers == 0:
        raise click.ClickException("no worker is running to take the run; start `ctcensus serve` (or "
                                   "`ctcensus worker`), or run it without --no-wait to wait for it here")
    with ctx.transaction() as session:
        run = start_run(session, make_request(session), cli_actor())
        run_id, name = run.id, run.name
    if workers:
        try:
            enqueue_calibration(ctx.settings, run_id)
        except Exception as exc:  # Redis gone between the check and the enqueue: the run must not stay queued
            _fail(ctx, run_id, f"could not queue the run: {exc}")
            raise click.ClickException(f"could not queue run {run_id} on Redis ({exc}); nothing stored") from None
        if no_wait:
            click.echo(f"queued calibration run {run_id} ({name}); follow it with `ctcensus calibrate --status "
                       f"{run_id}`, cancel it with `ctcensus calibrate --cancel {run_id}`")
            return
        _wait(ctx, run_id, quiet=quiet or as_json)
    else:
        if not here:
            click.echo("no worker is running (`ctcensus serve` starts one): running the calibration here", err=True)
        _run_here(ctx, run_id, quiet=quiet or as_json)
    _print_outcome(ctx, run_id, as_json=as_json)


def _fail(ctx: Context, run_id: int, message: str) -> None:
    from assessment.calibration_runs import mark_failed

    with ctx.transaction() as session:
        mark_failed(session, run_id, message)


def _check_job(ctx: Context, run_id: int) -> None:
    """A run whose worker job died (killed, out of memory) is marked failed, so nobody waits for it forever."""
    from assessment.hotstate import REDIS_ERRORS
    from assessment.jobs import calibration_job_failure

    try:
        reason = calibration_job_failure(ctx.settings, run_id)
    except REDIS_ERRORS:  # Redis unreachable: the run's row is all there is to show
        return
    if reason is not None:
        _fail(ctx, run_id, reason)


def _progress_bar(quiet: bool, max_iter: int) -> Any:
    return tqdm(total=max_iter, desc="EM", unit="it", file=sys.stderr, disable=quiet, leave=False)


def _show(bar: Any, progress: dict[str, Any]) -> None:
    iteration = int(progress.get("iteration") or 0)
    if iteration > bar.n:
        bar.update(iteration - bar.n)
    if "loglik" in progress:
        bar.set_postfix(loglik=f"{progress['loglik']:.2f}", change=f"{progress.get('change', 0):.1e}", refresh=False)
    bar.set_description_str(str(progress.get("step", "EM")))


def _run_here(ctx: Context, run_id: int, *, quiet: bool) -> None:
    """The job in this process, with a live bar; Ctrl+C cancels it."""
    from assessment.calibration_runs import execute_run, get_run

    with ctx.transaction() as session:
        max_iter = int(get_run(session, run_id).settings["max_iter"])
    bar = _progress_bar(quiet, max_iter)

    def tick(iteration: int) -> bool:
        _show(bar, {"step": "EM", "iteration": iteration})
        return _flag(ctx, run_id)  # another terminal may cancel the run

    try:
        execute_run(ctx.factory, run_id, secret_key=ctx.settings.secret_key, should_cancel=tick)
    except KeyboardInterrupt:  # execute_run marked the run cancelled
        raise click.ClickException(f"calibration run {run_id} interrupted: cancelled, nothing stored") from None
    finally:
        bar.close()


_last_poll: dict[int, float] = {}


def _flag(ctx: Context, run_id: int) -> bool:
    """The run's cancel flag, read at most every half second."""
    from assessment.calibration_runs import PROGRESS_SECONDS, get_run

    now = time.monotonic()
    if now - _last_poll.get(run_id, 0.0) < PROGRESS_SECONDS:
        return False
    _last_poll[run_id] = now
    with ctx.transaction() as session:
        return bool(get_run(session, run_id).cancel_requested)


def _wait(ctx: Context, run_id: int, *, quiet: bool) -> None:
    """Poll the run's row until it ends, showing its progress; Ctrl+C cancels it."""
    from assessment.calibration_runs import get_run

    with ctx.transaction() as session:
        max_iter = int(get_run(session, run_id).settings["max_iter"])
    bar = _progress_bar(quiet, max_iter)
    try:
        for k in itertools.count(1):
            with ctx.transaction() as session:
                run = get_run(session, run_id)
                status, progress = run.status, dict(run.progress)
            _show(bar, progress)
            if status.finished:
                return
            if k % 10 == 0:
                _check_job(ctx, run_id)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        _cancel(ctx, run_id, quiet=False)
        raise click.ClickException(f"calibration run {run_id}: cancel requested; nothing will be stored") from None
    finally:
        bar.close()


def _cancel(ctx: Context, run_id: int, *, quiet: bool) -> str:
    from assessment.calibration_runs import cancel_run

    with ctx.transaction() as session:
        status = str(cancel_run(session, run_id, cli_actor()).status)
    if not quiet:
        click.echo(f"calibration run {run_id}: cancel requested ({status})", err=True)
    return status


def _print_outcome(ctx: Context, run_id: int, *, as_json: bool) -> None:
    from assessment.calibration_runs import get_run, run_summary
    from assessment.states import CalibrationStatus

    with ctx.transaction() as session:
        run = get_run(session, run_id)
        data = run_summary(run)
    if as_json:
        echo_json(data)
    else:
        for line in _summary_lines(data):
            click.echo(line)
    if data["status"] != CalibrationStatus.DONE:
        sys.exit(1)


def _summary_lines(data: dict[str, Any]) -> list[str]:
    head = (f"calibration run {data['run']} ({data['name']}), window {data['window']}"
            f"{' grade ' + str(data['grade']) if data['grade'] is not None else ''}: {data['status']}")
    res = data["result"]
    if data["status"] != "done" or res is None:
        return [head + (f": {data['message']}" if data["message"] else "")]
    s = data["settings"]
    lines = [head,
             f"  {res['n_items']} items ({res['n_fixed']} anchors held fixed) on {res['n_persons']} students, "
             f"model {s['model']}, groups {s['group_column']}, anchors {s['anchors']}",
             f"  {'converged' if res['converged'] else 'NOT converged'} in {res['n_iter']} EM iterations; "
             f"loglik {res['loglik']:.3f}, AIC {res['aic']:.1f}, BIC {res['bic']:.1f}",
             "  latent distribution " + ", ".join(f"{g['group']}: N({g['mean']:.3f}, {g['sd']:.3f}^2), n {g['n']}"
                                                   for g in res["groups"]),
             f"  draft parameter set {data['parameter_set']} stored ({res['seconds']['total']:.2f} s: "
             f"read {res['seconds']['read']:.2f} s, calibrate {res['seconds']['calibrate']:.2f} s)"]
    lines.extend(f"  warning: {w}" for w in res.get("warnings", []))
    return lines


def cancel_calibration(run_id: int) -> None:
    """`ctcensus calibrate --cancel RUN_ID`."""
    status = _cancel(_ctx(), run_id, quiet=True)
    if status == "cancelled":
        click.echo(f"calibration run {run_id} cancelled before it started; nothing stored")
    else:
        click.echo(f"calibration run {run_id}: cancel requested; it stops at its next EM iteration and stores nothing")


def show_calibration(run_id: int, *, as_json: bool) -> None:
    """`ctcensus calibrate --status RUN_ID`."""
    from assessment.calibration_runs import get_run, run_summary

    ctx = _ctx()
    with ctx.transaction() as session:
        active = not get_run(session, run_id).status.finished
    if active:
        _check_job(ctx, run_id)
    with ctx.transaction() as session:
        data = run_summary(get_run(session, run_id))
    if as_json:
        echo_json(data)
        return
    for line in _summary_lines(data):
        click.echo(line)
    if data["status"] in ("queued", "running"):
        p = data["progress"]
        click.echo(f"  {p.get('step', '')}" + (f", EM iteration {p['iteration']}" if "iteration" in p else ""))


def list_calibrations(window: str | None, *, as_json: bool) -> None:
    """`ctcensus calibrate --list [--window CODE]`."""
    from assessment.calibration_runs import list_runs, run_summary

    with _ctx().transaction() as session:
        runs = [run_summary(r) for r in list_runs(session, window)]
    if as_json:
        echo_json(runs)
        return
    for r in runs:
        res = r["result"] or {}
        fit = f"loglik {res['loglik']:.2f}" if "loglik" in res else r["message"][:60]
        click.echo(f"run {r['run']:>4}  {r['created_at'][:19]}  window {r['window']:<6} {r['status']:<9} "
                   f"{r['name']:<24} {fit}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop once the queue is empty")
def worker_command(burst: bool) -> None:
    """Take research runs (calibrations) from the Redis queue; `ctcensus serve` starts one."""
    from assessment.jobs import queue_name, run_worker

    ctx = _ctx()
    click.echo(f"ctcensus worker: queue {queue_name()}", err=True)
    run_worker(ctx.settings, burst=burst)
