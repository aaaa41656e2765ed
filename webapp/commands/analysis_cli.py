"""`ctcensus analysis RUN_ID --out FILE.xlsx [--json] [--store]`: a calibration run's item-analysis report (issue 11.3);
`ctcensus analysis RUN_ID --store` / `--store --missing`: store runs' per-item statistics (item pages, re-run form)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from .common import Context, cli_actor, echo_json, output_file, pass_ctx

if TYPE_CHECKING:
    from assessment.item_analysis import ItemAnalysis

__all__ = ["analysis_command"]

_STEPS = ("reading responses", "classical statistics", "abilities and fit", "DIF and distractors", "anchor drift")


@click.command("analysis")
@click.argument("run_id", type=click.IntRange(1, 2**31 - 1), required=False)
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="the XLSX to write (sheets summary, items, ctt, distractors, fit, dif, flags)")
@click.option("--json", "as_json", is_flag=True, help="also print the tables as JSON")
@click.option("--store", is_flag=True,
              help="store the run's per-item statistics (item pages, the re-run form's flags); a run done by the "
                   "worker has them already")
@click.option("--missing", is_flag=True, help="with --store and no RUN_ID: every done run that has none stored")
@click.option("--quiet", is_flag=True, help="no progress bar")
@pass_ctx
def analysis_command(ctx: Context, run_id: int | None, out: str | None, as_json: bool, store: bool, missing: bool,
                     quiet: bool) -> None:
    """Item analysis of a done calibration run: CTT, IRT with SEs, fit, DIF, drift and flags (audited)."""
    if missing:
        if run_id is not None or out is not None or as_json or not store:
            raise click.UsageError("--missing: use it as `ctcensus analysis --store --missing` (no RUN_ID, --out "
                                   "or --json)")
        _store_missing(ctx)
        return
    if run_id is None:
        raise click.UsageError("RUN_ID: name a done calibration run (`ctcensus calibrate --list`), or use "
                               "--store --missing for every run without stored statistics")
    if out is None:
        if not store:
            raise click.UsageError("--out: name the XLSX to write (or --store to store the run's item statistics)")
        if as_json:
            raise click.UsageError("--json: prints the workbook's tables; use it with --out")
        _store_one(ctx, run_id)
        return
    from assessment.item_analysis_export import analysis_json

    report = _write_report(ctx, run_id, out, as_json=as_json, quiet=quiet)
    if store:
        from assessment.item_analysis_store import write_item_statistics

        with ctx.transaction() as session:
            write_item_statistics(session, run_id, report, actor=cli_actor())
    if as_json:
        echo_json(analysis_json(report))
        return
    s = report.summary
    click.echo(f"calibration run {s.run_id} ({s.name}), window {s.window}: {s.n_students} students, {s.n_items} items; "
               f"{len(report.flagged)} flagged; wrote {out}" + ("; stored its item statistics" if store else ""))
    for row in report.flagged:
        click.echo(f"  {row.item_id}: " + "; ".join(f"{f.code} ({f.reason})" for f in row.flags))
    if s.previous_set is None:
        click.echo(f"no parameter set is published for academic year {s.academic_year - 1}: anchor drift not checked")


def _write_report(ctx: Context, run_id: int, out: str, *, as_json: bool, quiet: bool) -> ItemAnalysis:
    """The report of a run written to `out` (audited), with a progress bar unless quiet."""
    from assessment.item_analysis import analyse_run
    from assessment.item_analysis_export import audit_analysis_export, write_analysis_xlsx

    # the bar shows itself only after a second (delay), so a quick report prints nothing but its result
    bar = tqdm(total=len(_STEPS), desc=f"run {run_id}", unit="step", disable=quiet or as_json, leave=False, delay=1.0)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    try:
        with output_file(out) as tmp, ctx.transaction() as session:
            try:
                report = analyse_run(session, run_id, secret_key=ctx.settings.secret_key, progress=step)
            except ValueError as exc:  # a scoring input error: the run's data no longer fit its estimates
                raise click.ClickException(f"calibration run {run_id}: {exc}") from None
            write_analysis_xlsx(report, tmp)
            audit_analysis_export(session, cli_actor(), report, out)
    finally:
        bar.close()
    return report


def _store(ctx: Context, run_id: int) -> ItemAnalysis:
    from assessment.errors import DomainError
    from assessment.item_analysis_store import store_item_statistics

    try:
        return store_item_statistics(ctx.factory, run_id, secret_key=ctx.settings.secret_key, actor=cli_actor())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except ValueError as exc:  # a scoring input error: the run's data no longer fit its estimates
        raise click.ClickException(f"calibration run {run_id}: {exc}") from None


def _store_one(ctx: Context, run_id: int) -> None:
    report = _store(ctx, run_id)
    click.echo(f"calibration run {run_id}: stored the item statistics of {report.summary.n_items} items "
               f"({len(report.flagged)} flagged)")


def _store_missing(ctx: Context) -> None:
    """Backfill: every done run without stored statistics; one that fails is named and the others go on."""
    from assessment.item_analysis_store import runs_without_statistics

    with ctx.transaction() as session:
        run_ids = runs_without_statistics(session)
    if not run_ids:
        click.echo("every done calibration run has its item statistics stored")
        return
    failed = []
    for run_id in run_ids:
        try:
            _store_one(ctx, run_id)
        except click.ClickException as exc:
            failed.append(run_id)
            click.echo(f"calibration run {run_id}: not stored: {exc.message}", err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(run_ids)} runs not stored: "
                                   f"{', '.join(str(r) for r in failed)}")
