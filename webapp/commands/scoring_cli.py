"""``ctcensus calibrate`` and ``ctcensus score``: IRT calibration and scoring from CSV files.

Plain click commands (no Flask import) so they run without an app; the main
group adds them with ``cli.add_command(calibrate_command)`` and
``cli.add_command(score_command)``. Bad input ends with one line
``Error: <file>: line L, column 'C': ...`` and exit status 1.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click
import numpy as np
from tqdm import tqdm

from scoring import ConvergenceWarning, ItemParameters, ScoringInputError, calibrate, estimate_ability
from scoring.csvio import (
    ResponseTable,
    groups_csv_path,
    read_groups_csv,
    read_params_csv,
    read_responses_csv,
    write_groups_csv,
    write_params_csv,
    write_theta_csv,
)

__all__ = ["calibrate_command", "score_command"]

MODELS = ["2pl", "1pl", "rasch", "3pl", "grm", "gpcm", "auto"]


@click.command("calibrate")
@click.argument("responses", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--window", "window", default=None,
              help="Calibrate this test window's responses from the database instead of a CSV file (a stored run).")
@click.option("--grade", type=click.IntRange(1, 12), default=None, help="--window: only students of this grade.")
@click.option("--model", type=click.Choice(MODELS, case_sensitive=False), default=None,
              help="IRT model for every item; 'auto' = 2pl for 0/1 items, gpcm for partial credit. "
                   "Default: 2pl for a CSV file, auto for --window.")
@click.option("--group-column", default=None,
              help="Column with group labels (e.g. grade) for multigroup calibration; --window: grade (default: "
                   "the lowest grade is the reference group N(0,1)) or none.")
@click.option("--skip-column", "skip_columns", multiple=True,
              help="A column that describes persons, not an item (e.g. school, gender); repeatable.")
@click.option("--reference-group", default=None, help="Group fixed at N(0,1); default: the lowest label.")
@click.option("--anchors", default=None,
              help="CSV: a parameters CSV of anchor items held fixed (matched by item name). --window: free "
                   "(default: every item estimated) or fixed (anchors held at the base scale's published values).")
@click.option("--anchor-set", default=None,
              help="--window --anchors fixed: the parameter set the anchor values come from (default: the set "
                   "published for the base year's window).")
@click.option("--name", default=None, help="--window: name of the draft parameter set the run stores.")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Output parameters CSV (CSV form); the latent mean/SD per group go to OUT.groups.csv beside it.")
@click.option("--max-iter", default=500, show_default=True, type=int)
@click.option("--tol", default=1e-4, show_default=True, type=float)
@click.option("--se/--no-se", default=True, show_default=True, help="Compute standard errors (Louis).")
@click.option("--no-wait", is_flag=True, help="--window: only queue the run and print its id.")
@click.option("--here", is_flag=True,
              help="--window: run in this process instead of on the worker (also when no worker is running).")
@click.option("--cancel", "cancel", type=click.IntRange(1, 2**31 - 1), default=None, metavar="RUN_ID",
              help="Cancel a queued or running calibration run (nothing is stored).")
@click.option("--status", "status", type=click.IntRange(1, 2**31 - 1), default=None, metavar="RUN_ID",
              help="Show a calibration run (add --json for everything it records).")
@click.option("--rerun", "rerun", type=click.IntRange(1, 2**31 - 1), default=None, metavar="RUN_ID",
              help="Run this calibration run again (its selection and settings) without the --exclude items, as "
                   "a new run making draft set --name.")
@click.option("--exclude", "exclude", multiple=True, metavar="ITEM_ID[,ITEM_ID...]",
              help="--rerun: item ids to leave out (comma-separated or repeated); stored in the new run's selection.")
@click.option("--list", "list_runs", is_flag=True, help="List the calibration runs (of --window when given), newest first.")
@click.option("--json", "as_json", is_flag=True, help="--window/--status/--list: print JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def calibrate_command(
    responses: str | None, window: str | None, grade: int | None, model: str | None, group_column: str | None,
    skip_columns: tuple[str, ...], reference_group: str | None, anchors: str | None, anchor_set: str | None,
    name: str | None, out: str | None, max_iter: int, tol: float, se: bool, no_wait: bool, here: bool,
    cancel: int | None, status: int | None, rerun: int | None, exclude: tuple[str, ...], list_runs: bool,
    as_json: bool, quiet: bool,
) -> None:
    """Calibrate items from RESPONSES.csv (id column, one column per item, empty = missing), or a window's
    responses from the database (--window CODE --name NAME: a stored run making a draft parameter set)."""
    from .calibration_cli import (
        calibrate_from_database,
        cancel_calibration,
        list_calibrations,
        rerun_calibration,
        show_calibration,
    )

    if rerun is not None or exclude:
        if rerun is None or not exclude or not name:
            raise click.UsageError("a re-run needs all of --rerun RUN_ID, --exclude ITEM_ID[,ITEM_ID...] and --name NEW")
        if responses or window:
            raise click.UsageError("--rerun takes the run's own window and settings; give no file or --window")
        rerun_calibration(run_id=rerun, exclude=exclude, name=name, no_wait=no_wait, here=here, as_json=as_json,
                          quiet=quiet)
        return
    if list_runs:
        if responses or name:
            raise click.UsageError("--list takes at most --window (and --json)")
        list_calibrations(window, as_json=as_json)
        return
    if cancel is not None or status is not None:
        if responses or window:
            raise click.UsageError("--cancel and --status take a run id alone, without a file or --window")
        if cancel is not None:
            cancel_calibration(cancel)
        else:
            show_calibration(status, as_json=as_json)  # type: ignore[arg-type]
        return
    if window is not None:
        if responses is not None:
            raise click.UsageError("give either RESPONSES.csv or --window, not both")
        wrong = [flag for flag, value in (("--skip-column", skip_columns), ("--out", out)) if value]
        if wrong:
            raise click.UsageError(f"{wrong[0]} belongs to the CSV form; a --window run stores its parameter set "
                                   f"(export it with `ctcensus params export` once that exists)")
        if not name:
            raise click.UsageError("--window needs --name NAME: the name of the draft parameter set the run stores")
        calibrate_from_database(
            window=window, grade=grade, model=(model or "auto").lower(), group_column=group_column or "grade",
            anchors=(anchors or "free").lower(), anchor_set=anchor_set, name=name, reference_group=reference_group,
            max_iter=max_iter, tol=tol, se=se, no_wait=no_wait, here=here, as_json=as_json, quiet=quiet)
        return
    if responses is None:
        raise click.UsageError("give RESPONSES.csv, or --window CODE --name NAME to calibrate from the database")
    wrong = [flag for flag, value in (("--grade", grade), ("--anchor-set", anchor_set), ("--name", name),
                                      ("--no-wait", no_wait), ("--here", here), ("--json", as_json)) if value]
    if wrong:
        raise click.UsageError(f"{wrong[0]} belongs to --window runs, not to a CSV file")
    if out is None:
        raise click.UsageError("Missing option '--out'.")
    if anchors is not None:
        click_ctx = click.get_current_context()
        param = next(p for p in click_ctx.command.params if p.name == "anchors")
        anchors = str(click.Path(exists=True, dir_okay=False).convert(anchors, param, click_ctx))
    model = model or "2pl"
    try:
        table = read_responses_csv(responses, group_column=group_column, skip_columns=skip_columns)
        fixed = read_params_csv(anchors) if anchors else None
        if fixed is not None:
            missing = [n for n in fixed.item_names if n not in table.item_names]
            if missing:
                raise ScoringInputError(f"{anchors}: anchor item {missing[0]!r} is not a column of {responses}")
        _check_score_range(table, responses, _calibration_max_scores(table, model, fixed, anchors))
        ref: Any = reference_group
        if ref is not None and table.groups is not None and table.groups.dtype.kind in "iu":
            try:
                ref = int(ref)
            except ValueError:
                pass
        bar = tqdm(total=max_iter, desc="EM", unit="it", file=sys.stderr, disable=quiet, leave=False)

        def progress(it: int, ll: float, change: float) -> None:
            bar.update(1)
            bar.set_postfix(loglik=f"{ll:.2f}", change=f"{change:.1e}", refresh=False)

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                res = calibrate(
                    table.responses, model, groups=table.groups, reference_group=ref, fixed=fixed,
                    item_names=table.item_names, max_iter=max_iter, tol=tol, se=se, progress=progress,
                )
        except ScoringInputError as exc:
            raise ScoringInputError(_name_files(str(exc), responses, anchors)) from None
        finally:
            bar.close()
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                click.echo(f"Warning: {w.message}", err=True)
        write_params_csv(out, res)
        # always written (N(0, 1) when nothing was estimated) so that `score` never reads a stale file
        groups_path = groups_csv_path(out)
        write_groups_csv(groups_path, res, labels=None if table.groups is not None else ["all"])
    except ScoringInputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"calibrated {res.params.n_items} items on {res.n_persons} persons: loglik {res.loglik:.3f}, "
        f"{res.n_iter} EM iterations, {'converged' if res.converged else 'NOT converged'} -> {out}",
        err=True,
    )
    estimated = np.isfinite(res.se_group_means) | np.isfinite(res.se_group_sds)
    if table.groups is None and fixed is not None:
        estimated = np.ones(1, dtype=bool)  # estimated even when --no-se leaves the SEs empty
    if estimated.any():
        dists = ", ".join(
            f"{lab}: N({res.group_means[g]:.3f}, {res.group_sds[g]:.3f}^2)"
            for g, lab in enumerate(res.group_labels if table.groups is not None else ["all"])
        )
        click.echo(f"latent distribution {dists} -> {groups_path}", err=True)


@click.command("score")
@click.argument("responses", type=click.Path(exists=True, dir_okay=False))
@click.option("--params", "params_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Parameters CSV from `ctcensus calibrate`.")
@click.option("--method", type=click.Choice(["eap", "map", "mle", "wle"], case_sensitive=False), default="eap",
              show_default=True)
@click.option("--group-column", default=None,
              help="Column with each person's group (e.g. grade): not an item; with EAP/MAP each group's "
                   "estimated mean and SD from PARAMS.groups.csv are its prior. Without it, a single-group "
                   "PARAMS.groups.csv (e.g. from --anchors) is everyone's prior.")
@click.option("--skip-column", "skip_columns", multiple=True,
              help="A column that describes persons, not an item (e.g. school, gender); repeatable.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output CSV: id,theta,se,n_responses.")
def score_command(responses: str, params_path: str, method: str, group_column: str | None,
                  skip_columns: tuple[str, ...], out: str) -> None:
    """Estimate abilities for RESPONSES.csv with item parameters from --params."""
    try:
        params = read_params_csv(params_path)
        table = read_responses_csv(responses, group_column=group_column, skip_columns=skip_columns)
        prior_mean, prior_sd, prior_note = _group_priors(table, params_path, method.lower())
        unknown = [n for n in params.item_names if n not in table.item_names]
        if unknown:
            raise ScoringInputError(f"{params_path}: item {unknown[0]!r} is not a column of {responses}")
        extra = [n for n in table.item_names if n not in params.item_names]
        if extra:
            raise ScoringInputError(f"{responses}: column {extra[0]!r} has no parameters in {params_path}")
        order = [table.item_names.index(n) for n in params.item_names]
        kmax = np.zeros(len(table.item_names), dtype=np.int64)
        kmax[order] = params.n_categories - 1
        _check_score_range(table, responses, [(int(k), f"in {params_path}") for k in kmax])
        est = estimate_ability(table.responses[:, order], params, method.lower(),  # type: ignore[arg-type]
                               prior_mean=prior_mean, prior_sd=prior_sd)
        write_theta_csv(out, table.ids, est)
    except ScoringInputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"scored {len(est)} persons ({method.upper()}{prior_note}) -> {out}", err=True)


def _name_files(message: str, responses: str, anchors: str | None) -> str:
    """Core errors name the argument (``responses:``, ``fixed:``); on the command line, name the file."""
    for argument, path in (("responses: ", responses), ("fixed: ", anchors)):
        if path is not None and message.startswith(argument):
            return f"{path}: {message[len(argument):]}"
    return message


def _calibration_max_scores(
    table: ResponseTable, model: str, fixed: ItemParameters | None, anchors: str | None
) -> list[tuple[int, str]]:
    """Highest allowed score per item column and where that limit comes from (model or anchors file)."""
    dich = model.lower() in ("1pl", "2pl", "3pl", "rasch")
    out = [(1 if dich else 100, f"--model {model.lower()}")] * len(table.item_names)
    if fixed is not None:
        pos = {n: j for j, n in enumerate(table.item_names)}
        for k, n in enumerate(fixed.item_names):
            out[pos[n]] = (int(fixed.n_categories[k]) - 1, f"anchor {fixed.model[k]} in {anchors}")
    return out


def _check_score_range(table: ResponseTable, path: str, limits: list[tuple[int, str]]) -> None:
    """Reject a score above its item's highest category, naming the file line and column."""
    kmax = np.array([k for k, _ in limits], dtype=np.float64)
    bad = table.responses > kmax[None, :]  # NaN (missing) compares False
    if not bad.any():
        return
    i, j = (int(v) for v in np.argwhere(bad)[0])  # row-major: the first offending line
    line = table.lines[i] if table.lines else i + 2
    raise ScoringInputError(
        f"{path}: line {line}, column {table.item_names[j]!r}: score {table.responses[i, j]:g} is out of range; "
        f"item {table.item_names[j]!r} ({limits[j][1]}) allows scores 0..{limits[j][0]}"
    )


def _group_priors(table: ResponseTable, params_path: str, method: str) -> tuple[Any, Any, str]:
    """Per-person prior (mean, sd) for EAP/MAP from PARAMS.groups.csv, and a note saying which prior.

    With a group column each person gets their group's row. Without one, a single-row file
    (a single-group calibration, e.g. a cohort calibrated on fixed anchors) is everybody's
    prior; a multigroup file gives N(0, 1), the reference group's.
    """
    if method not in ("eap", "map"):
        return 0.0, 1.0, ", no prior"
    path = groups_csv_path(params_path)
    if table.groups is None:
        if not path.exists():
            return 0.0, 1.0, f", prior N(0, 1): no {path.name}"
        dist = read_groups_csv(path)
        if len(dist) != 1:
            return 0.0, 1.0, (f", prior N(0, 1) of the reference group: {path.name} has groups {sorted(dist)}; "
                              "pass --group-column for each group's prior")
        (label, (m, s)), = dist.items()
        return m, s, f", prior N({m:.3f}, {s:.3f}^2) of group {label!r} from {path.name}"
    if not path.exists():
        raise ScoringInputError(
            f"{path}: not found; --group-column with {method.upper()} uses each group's mean and SD from the "
            f"groups file written by `ctcensus calibrate` (or score without --group-column)"
        )
    dist = read_groups_csv(path)
    labels = [str(g) for g in table.groups]
    unknown = sorted(set(labels) - set(dist))
    if unknown:
        raise ScoringInputError(f"{path}: no row for group {unknown[0]!r}; the groups there are {sorted(dist)}")
    mean = np.array([dist[g][0] for g in labels])
    sd = np.array([dist[g][1] for g in labels])
    return mean, sd, f", each group's prior from {path.name}"
