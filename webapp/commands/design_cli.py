"""`ctcensus simulate-design`: check a test design before test day (issue 11.5; docs/design-simulation.md).

`--design FILE.yaml` reads a design file; `--from-bank` takes the bank's forms and a stored
parameter set. The simulation runs here with a progress bar, then prints a summary (`--json`:
the whole report) and writes the per-item recovery table with `--out FILE.csv|xlsx`. Bad input:
one line `Error: ...` naming the file, line and field (or the option), exit status 1; nothing is run.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from .common import Context, cli_actor, echo_json, output_file

__all__ = ["simulate_design_command"]


def _schools(value: str) -> dict[int, int]:
    try:
        parts = [int(p) for p in value.split(",")]
    except ValueError:
        raise click.UsageError(f"--schools: expected N (each grade) or N5,N8; got {value!r}") from None
    if len(parts) not in (1, 2):
        raise click.UsageError(f"--schools: expected N (each grade) or N5,N8; got {value!r}")
    return {5: parts[0], 8: parts[-1]}


def _summary_lines(data: dict[str, Any], source: str, seconds: float) -> list[str]:
    def num(x: float | None, places: int = 3) -> str:
        return "—" if x is None else f"{x:.{places}f}"

    lines = [f"design simulation: {source}; {data['replications']} replications "
             f"({data['converged']} converged), students scored by {data['method'].upper()}, {seconds:.1f} s",
             "  students per grade: " + ", ".join(f"grade {g}: {n} in {len(data['school_sizes'][g])} schools"
                                                  for g, n in data["n_per_grade"].items()),
             "  parameter recovery (over items): "
             + "; ".join(f"{s['parameter']}: bias {num(s['bias'])}, RMSE {num(s['rmse'])}, r {num(s['correlation'])}"
                         for s in data["summary"])]
    lines += [f"  grade {g['grade']} latent {g['statistic']}: true {num(g['true'])}, bias {num(g['bias'])}, "
              f"RMSE {num(g['rmse'])}" for g in data["groups"]]
    lines += [f"  grade {g['grade']} - reference grade mean difference: SE {num(g['empirical_se'])} "
              f"(reported {num(g['reported_se'])}), 95% interval ± {num(g['half_width_95'])}"
              for g in data["grade_difference"]]
    lines.append("  school means (theta):  grade  students  schools  SE      reported SE  95% ±   detectable diff.")
    lines += [f"                         {s['grade']:>5}  {s['size_min']:>3}-{s['size_max']:<4} {s['n_schools']:>7}  "
              f"{num(s['empirical_se'])}   {num(s['reported_se'])}        {num(s['half_width_95'])}   "
              f"{num(s['detectable_difference'])}" for s in data["schools"]]
    lines.append("  school pairs significantly different (5%): "
                 + ", ".join(f"grade {g}: {'—' if v is None else f'{100 * v:.0f}%'}"
                             for g, v in data["pairs_detectable"].items()))
    lines += [f"  warning: {w}" for w in data["warnings"][:10]]
    return lines


@click.command("simulate-design")
@click.option("--design", "design_file", metavar="FILE.yaml", help="a design file (docs/design-simulation.md)")
@click.option("--from-bank", is_flag=True, help="the bank's forms and a stored parameter set")
@click.option("--form", "form_ids", type=int, multiple=True, help="with --from-bank: these form ids (repeat)")
@click.option("--parameter-set", help="with --from-bank: true parameters from this set (default: the provisional set)")
@click.option("--n-grade5", type=int, default=2500, show_default=True, help="with --from-bank: grade-5 students")
@click.option("--n-grade8", type=int, default=2850, show_default=True, help="with --from-bank: grade-8 students")
@click.option("--schools", default="42,16", show_default=True, help="with --from-bank: schools per grade: N or N5,N8")
@click.option("--icc", type=float, default=0.15, show_default=True, help="with --from-bank: intraclass correlation")
@click.option("--replications", type=int, help="replications (default 20, or the file's)")
@click.option("--seed", type=int, help="random seed (default 1, or the file's)")
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
@click.option("--out", metavar="FILE.csv|xlsx", help="write the per-item recovery table")
@click.option("--quiet", is_flag=True, help="no progress bar")
def simulate_design_command(design_file: str | None, from_bank: bool, form_ids: tuple[int, ...],
                            parameter_set: str | None, n_grade5: int, n_grade8: int, schools: str, icc: float,
                            replications: int | None, seed: int | None, as_json: bool, out: str | None,
                            quiet: bool) -> None:
    """Simulate censuses of a design: parameter recovery, precision of school means and of the grade difference."""
    import time

    from assessment.design_file import parse_design
    from assessment.design_runs import (
        ITEM_COLUMNS,
        bank_design,
        item_table_rows,
        record_design,
        report_dict,
        run_design,
    )
    from assessment.errors import InvalidInput
    from assessment.results_export import ResultTable, write_table

    if (design_file is None) == (not from_bank):
        raise click.UsageError("give either --design FILE.yaml or --from-bank")
    fmt = None
    if out is not None:
        fmt = Path(out).suffix.lower().lstrip(".")
        if fmt not in ("csv", "xlsx"):
            raise click.UsageError(f"--out: expected a .csv or .xlsx file name; got {out!r}")
    ctx = click.get_current_context().ensure_object(Context)
    try:
        if design_file is not None:
            try:
                text = Path(design_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise click.ClickException(f"{design_file}: cannot read the design file ({exc})") from None
            spec = parse_design(text, design_file)
            source = design_file
        else:
            with ctx.transaction() as session:
                spec = bank_design(session, n_per_grade={5: n_grade5, 8: n_grade8}, schools=_schools(schools),
                                   icc=icc, form_ids=form_ids, parameter_set=parameter_set,
                                   replications=replications or 20, seed=1 if seed is None else seed)
            source = "bank: " + ", ".join(f.name for f in spec.forms)
        changes = {k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}
        if changes:
            from scoring.design import DesignError

            try:
                spec = dataclasses.replace(spec, **changes)  # type: ignore[arg-type]
            except DesignError as exc:
                raise click.ClickException(f"--{str(exc).split(':')[0]}: {str(exc).split(':', 1)[1].strip()}") \
                    from None
    except InvalidInput as exc:
        raise click.ClickException(exc.message) from None
    with ctx.transaction() as session:
        record_design(session, cli_actor(), spec, source)
    bar = tqdm(total=spec.replications, desc="replications", unit="rep", file=sys.stderr,
               disable=quiet or as_json, leave=False)
    started = time.perf_counter()
    try:
        report = run_design(spec, lambda done, total: bar.update(done - bar.n))
    except InvalidInput as exc:
        raise click.ClickException(exc.message) from None
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    data = report_dict(report)
    if out is not None and fmt is not None:
        with output_file(out) as tmp:
            write_table(ResultTable(ITEM_COLUMNS, item_table_rows(data)), fmt, tmp, sheet="recovery")
    if as_json:
        echo_json(data | {"source": source, "seconds": round(seconds, 3)})
        return
    for line in _summary_lines(data, source, seconds):
        click.echo(line)
    if out is not None:
        click.echo(f"  per-item recovery table: {out}")
