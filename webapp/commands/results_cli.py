"""`ctcensus results ...`, `ctcensus responses import` and `ctcensus demo-census`: census results from the CLI."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from .common import Context, cli_actor, echo_json, output_file, pass_ctx

__all__ = ["demo_census_command", "responses_group", "results_group"]

_STEPS = ("reading answers", "plausible values", "abilities", "group statistics", "storing")


def _run_dict(run: Any) -> dict[str, Any]:
    s = run.summary
    return {"run": run.id, "window": run.window.code, "current": run.current, "parameter_set": run.parameter_set.name,
            "created_at": run.created_at.isoformat(), "software_version": run.software_version,
            "students_scored": s["students_scored"], "imported": s.get("imported", 0),
            "students_without_scored_answers": s["students_without_scored_answers"],
            "grade_gap_8_minus_5": s.get("grade_gap_8_minus_5"), "between_school_share": s.get("between_school_share"),
            "suppressed_rows": s.get("suppressed_rows"), "base": s.get("base")}


def compute(ctx: Context, window: str, parameter_set: str | None, *, show_progress: bool = True) -> dict[str, Any]:
    """Compute (or find) the window's results; returns the run's summary."""
    from assessment.reporting_config import load_reporting_config
    from assessment.results import compute_results

    config = load_reporting_config(ctx.settings.instance_path)
    bar = tqdm(total=len(_STEPS), desc="results", unit="step", disable=not show_progress, leave=False)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    try:
        with ctx.transaction() as session:
            outcome = compute_results(session, window, config, min_cell_size=ctx.settings.min_cell_size,
                                      parameter_set=parameter_set, actor=cli_actor(), progress=step)
            data = _run_dict(outcome.run) | {"reused": outcome.reused}
    finally:
        bar.close()
    return data


@click.group("results")
def results_group() -> None:
    """Census results: compute, list runs, export."""


@results_group.command("compute")
@click.option("--window", "window", required=True, help="test window code, e.g. 113")
@click.option("--parameter-set", default=None, help="score with this set instead of the window's operational one")
@click.option("--json", "as_json", is_flag=True, help="print the run summary as JSON")
@pass_ctx
def results_compute(ctx: Context, window: str, parameter_set: str | None, as_json: bool) -> None:
    """Score every finished attempt of the window and store a run (the same inputs give the same run)."""
    data = compute(ctx, window, parameter_set, show_progress=not as_json)
    if as_json:
        echo_json(data)
        return
    verb = "found stored" if data["reused"] else "computed"
    click.echo(f"{verb} run {data['run']} for window {data['window']} with parameter set {data['parameter_set']}: "
               f"{data['students_scored']} students scored ({data['imported']} imported), "
               f"{data['students_without_scored_answers']} finished without an answer; "
               f"{data['suppressed_rows']} group rows suppressed")
    gap = data.get("grade_gap_8_minus_5")
    if gap:
        click.echo(f"grade 8 - grade 5: {gap['estimate']:.1f} points (95% CI {gap['ci_low']:.1f} to {gap['ci_high']:.1f})")
    for grade, share in sorted((data.get("between_school_share") or {}).items()):
        click.echo(f"grade {grade}: {100 * share['estimate']:.1f}% of the score variance lies between schools "
                   f"({share['schools']} schools)")


@results_group.command("runs")
@click.option("--window", "window", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def results_runs(ctx: Context, window: str, as_json: bool) -> None:
    """Every scoring run of the window, newest first (one is current)."""
    from assessment.results import list_runs

    with ctx.transaction() as session:
        runs = [_run_dict(r) for r in list_runs(session, window)]
    if as_json:
        echo_json(runs)
        return
    for r in runs:
        mark = "*" if r["current"] else " "
        click.echo(f"{mark} run {r['run']:>4}  {r['created_at'][:19]}  {r['parameter_set']:<24} "
                   f"{r['students_scored']:>7} students  {r['software_version']}")


@results_group.command("export")
@click.option("--window", "window", required=True)
@click.option("--level", type=click.Choice(["student", "class", "school", "district", "city"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True)
@click.option("--run", "run_id", type=click.IntRange(1, 2**31 - 1), default=None, help="a run id (default: current)")
@click.option("--breakdown", type=click.Choice(["none", "gender", "tags"]), default="none", show_default=True,
              help="add rows by gender, or by school attribute (city level)")
@click.option("--pseudonymous", is_flag=True, help="stable pseudonyms instead of student, class and school ids")
@pass_ctx
def results_export(ctx: Context, window: str, level: str, fmt: str, out: str, run_id: int | None, breakdown: str,
                   pseudonymous: bool) -> None:
    """Write one level's results (small groups suppressed) as CSV or XLSX."""
    from assessment.access import Scope
    from assessment.results import get_run
    from assessment.results_export import audit_export, result_table, write_table

    scope = Scope(role="researcher") if pseudonymous else Scope.everything()
    with ctx.transaction() as session:
        run = get_run(session, window, run_id)
        table = result_table(session, run, level, scope, secret_key=ctx.settings.secret_key, breakdown=breakdown)
        write_table(table, fmt, Path(out))
        audit_export(session, cli_actor(), run, level, scope, out, len(table.rows))
    click.echo(f"wrote {len(table.rows)} {level} rows of run {run.id} to {out}")


@click.group("responses")
def responses_group() -> None:
    """Item scores: import those collected outside the online test, export them for research."""


@responses_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--window", "window", required=True)
@click.option("--form", "form_id", type=click.IntRange(1, 2**31 - 1), required=True)
@click.option("--replace", is_flag=True, help="replace attempts the students already have in the window")
@pass_ctx
def responses_import(ctx: Context, path: str, window: str, form_id: int, replace: bool) -> None:
    """Import item scores (CSV: student,<item id>,...; empty = not presented) in one transaction."""
    from assessment.responses_import import import_responses

    with ctx.transaction() as session:
        report = import_responses(session, Path(path), window_code=window, form_id=form_id, replace=replace,
                                  actor=cli_actor())
    click.echo(f"imported {report.attempts} students ({report.answers} item scores) in {report.sessions} class "
               f"sessions; {report.replaced} earlier attempts replaced")


@responses_group.command("export")
@click.option("--window", "window", required=True, help="test window code, e.g. 113")
@click.option("--form", "form_id", type=click.IntRange(1, 2**31 - 1), default=None, help="only attempts of this form")
@click.option("--grade", type=click.IntRange(1, 12), default=None, help="only students of this grade")
@click.option("--format", "fmt", type=click.Choice(["csv", "qti-results"]), default="csv", show_default=True,
              help="csv: the file `ctcensus calibrate` reads; qti-results: a zip of QTI 3.0 assessmentResult "
                   "documents, one per attempt")
@click.option("--not-reached", type=click.Choice(["missing", "zero"]), default="missing", show_default=True,
              help="CSV cells of items after a student's last answer: empty (as calibration reads them) or 0 "
                   "(as the scoring run counts them)")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True)
@click.option("--quiet", is_flag=True, help="no progress bar")
@pass_ctx
def responses_export(ctx: Context, window: str, form_id: int | None, grade: int | None, fmt: str, not_reached: str,
                     out: str, quiet: bool) -> None:
    """Export item scores of every finished attempt, with stable pseudonyms (audited)."""
    from assessment.responses_export import (
        audit_responses_export,
        select_responses,
        write_qti_results,
        write_responses_csv,
    )

    with output_file(out) as tmp, ctx.transaction() as session:
        selection = select_responses(session, window, secret_key=ctx.settings.secret_key, form_id=form_id,
                                     grade=grade)
        with tqdm(total=selection.n_rows, desc="attempts", unit="attempt", disable=quiet, leave=False) as bar:
            if fmt == "csv":
                with tmp.open("w", newline="", encoding="utf-8") as fh:
                    write_responses_csv(selection, fh, not_reached=not_reached, progress=bar.update)
            else:
                write_qti_results(session, selection, tmp, progress=bar.update)
        audit_responses_export(session, cli_actor(), selection, fmt, out, not_reached=not_reached)
    what = "attempts" if fmt == "csv" else "QTI 3.0 assessmentResult documents (zip)"
    click.echo(f"wrote {selection.n_rows} {what} of window {selection.window_code} with "
               f"{len(selection.item_ids)} items to {out}")
    if fmt == "csv":
        click.echo(f"calibrate it: ctcensus calibrate {out} --model auto --group-column grade --skip-column school "
                   f"--skip-column gender --out params.csv")


@click.command("demo-census")
@click.option("--window", "window", required=True)
@click.option("--seed", default=113, show_default=True)
@pass_ctx
def demo_census_command(ctx: Context, window: str, seed: int) -> None:
    """Simulate the whole demo city sitting the test (classes not yet tested), then compute results."""
    for line in run_demo_census(ctx, window, seed):
        click.echo(line)


def run_demo_census(ctx: Context, window: str, seed: int = 113) -> list[str]:
    """Simulate and score; returns the lines to print."""
    from assessment.census_simulation import simulate_census

    with ctx.transaction() as session, tqdm(desc="classes sitting the test", unit="class", leave=False) as bar:
        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        report = simulate_census(session, window, seed=seed, actor=cli_actor(), progress=tick)
    lines = [f"simulated census: {report.sessions} class sessions, {report.students} students sat the test "
             f"({report.absent} absent, {report.unfinished} unfinished, {report.timed_out} timed out), "
             f"{report.answers} answers"]
    data = compute(ctx, window, None)
    lines.append(f"results: run {data['run']}, {data['students_scored']} students scored")
    return lines


def demo_result_urls(ctx: Context, url: str) -> list[str]:
    """The dashboards of the demo's bureau, principal and teacher logins, with their passwords."""
    from sqlalchemy import select

    from assessment.demo import DEMO_ACCOUNTS, DEMO_WINDOW
    from assessment.models import SchoolClass, User, UserClass

    base = f"{url}/results/{DEMO_WINDOW}"
    lines = ["results dashboards (after the simulated census):"]
    with ctx.transaction() as session:
        for username, role, page in (("bureau", "bureau", "city"), ("principal", "school_admin", "school"),
                                      ("teacher", "teacher", "class")):
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                continue
            if page == "city":
                target = f"{base}/city"
            elif page == "school":
                target = f"{base}/school/{DEMO_ACCOUNTS[username][2]}"
            else:
                klass = session.scalar(select(SchoolClass.source_id).join(UserClass, UserClass.class_id == SchoolClass.id)
                                       .where(UserClass.user_id == user.id).limit(1))
                target = f"{base}/class/{klass}"
            lines.append(f"  {role:<12} {target}  (log in as {username} / {DEMO_ACCOUNTS[username][1]})")
    return lines


@results_group.command("compare")
@click.option("--earlier", "earlier", required=True, help="window code of the earlier year, e.g. 113")
@click.option("--later", "later", required=True, help="window code of the later year, e.g. 114")
@click.option("--level", type=click.Choice(["class", "school", "district", "city"]), default="city", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True)
@pass_ctx
def results_compare(ctx: Context, earlier: str, later: str, level: str, fmt: str, out: str) -> None:
    """Year over year: the change of each unit's mean between two windows' current runs, with its SE."""
    from assessment.access import Scope
    from assessment.results import current_run
    from assessment.results_export import audit_export, compare_runs, write_table

    with ctx.transaction() as session:
        run_a, run_b = current_run(session, earlier), current_run(session, later)
        table = compare_runs(session, run_a, run_b, level, Scope.everything(), secret_key=ctx.settings.secret_key)
        write_table(table, fmt, Path(out))
        audit_export(session, cli_actor(), run_b, f"compare-{level}", Scope.everything(), out, len(table.rows))
    click.echo(f"wrote {len(table.rows)} {level} rows comparing window {earlier} (run {run_a.id}) with {later} "
               f"(run {run_b.id}) to {out}")
