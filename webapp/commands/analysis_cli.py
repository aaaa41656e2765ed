"""`ctcensus analysis RUN_ID --out FILE.xlsx [--json]`: a calibration run's item-analysis report (issue 11.3)."""
from __future__ import annotations

import click
from tqdm import tqdm

from .common import Context, cli_actor, echo_json, output_file, pass_ctx

__all__ = ["analysis_command"]

_STEPS = ("reading responses", "classical statistics", "abilities and fit", "DIF and distractors", "anchor drift")


@click.command("analysis")
@click.argument("run_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="the XLSX to write (sheets summary, items, ctt, distractors, fit, dif, flags)")
@click.option("--json", "as_json", is_flag=True, help="also print the tables as JSON")
@click.option("--quiet", is_flag=True, help="no progress bar")
@pass_ctx
def analysis_command(ctx: Context, run_id: int, out: str, as_json: bool, quiet: bool) -> None:
    """Item analysis of a done calibration run: CTT, IRT with SEs, fit, DIF, drift and flags (audited)."""
    from assessment.item_analysis import analyse_run
    from assessment.item_analysis_export import analysis_json, audit_analysis_export, write_analysis_xlsx

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
    if as_json:
        echo_json(analysis_json(report))
        return
    s = report.summary
    click.echo(f"calibration run {s.run_id} ({s.name}), window {s.window}: {s.n_students} students, {s.n_items} items; "
               f"{len(report.flagged)} flagged; wrote {out}")
    for row in report.flagged:
        click.echo(f"  {row.item_id}: " + "; ".join(f"{f.code} ({f.reason})" for f in row.flags))
    if s.previous_set is None:
        click.echo(f"no parameter set is published for academic year {s.academic_year - 1}: anchor drift not checked")
