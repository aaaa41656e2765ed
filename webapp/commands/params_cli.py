"""`ctcensus params ...`: parameter sets (issue 11.4): list, compare, link, publish, unpublish, export.

Excluding flagged items and re-running is `ctcensus calibrate --rerun RUN_ID --exclude ITEM_ID[,...] --name NEW`
(commands/calibration_cli.py). Bad input: one line `Error: ...`, exit status 1, nothing changed.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click

from .common import Context, cli_actor, echo_json, echo_rows, output_file, pass_ctx

__all__ = ["params_group"]


@click.group("params")
def params_group() -> None:
    """Parameter sets: list, compare, link onto a base scale, publish for a window, export."""


@params_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print every set as JSON")
@pass_ctx
def params_list(ctx: Context, as_json: bool) -> None:
    """Every set with its origin, models, items, creation time, status and groups, newest first."""
    from assessment.parameter_sets import list_sets

    with ctx.transaction() as session:
        rows = list_sets(session)

    def line(r: dict[str, Any]) -> str:
        models = ",".join(f"{m}:{n}" for m, n in r["models"].items())
        groups = ", ".join(f"{g['group']}: N({g['mean']:.3f}, {g['sd']:.3f}^2)" for g in r["groups"]) or "-"
        return (f"{r['name']:<28} {r['status']:<28} {r['items']:>3} items  {models:<18} "
                f"{r['created_at'][:19]}  {r['origin_text']}; groups {groups}")

    echo_rows(rows, as_json=as_json, line=line, noun="parameter sets")


@params_group.command("compare")
@click.argument("set_a")
@click.argument("set_b")
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="write one row per common item and parameter as CSV")
@pass_ctx
def params_compare(ctx: Context, set_a: str, set_b: str, as_json: bool, out: str | None) -> None:
    """Compare SET_A and SET_B item by item: each parameter in both, B - A, the items only one holds."""
    from dataclasses import asdict

    from assessment.parameter_sets import compare_sets

    with ctx.transaction() as session:
        cmp = compare_sets(session, set_a, set_b)
    if out is not None:
        with output_file(out) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["item", "parameter", set_a, set_b, "difference"],
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(cmp.rows())
    if as_json:
        echo_json(asdict(cmp))
        return
    s = cmp.summary
    click.echo(f"{set_a} vs {set_b}: {s['common']} common items; only in {set_a}: "
               f"{', '.join(cmp.only_a) or 'none'}; only in {set_b}: {', '.join(cmp.only_b) or 'none'}")
    for key in ("discrimination", "difficulty"):
        st = s[key]
        if st["n"]:
            click.echo(f"  {key} ({'a' if key == 'discrimination' else 'b'}), {set_b} - {set_a}: mean "
                       f"{st['mean']:+.4f}, RMSE {st['rmse']:.4f} over {st['n']} values")
    if out is not None:
        click.echo(f"wrote {len(cmp.rows())} rows to {out}")
        return
    for it in cmp.items:
        bs = " ".join(f"b{k + 1} {u:.3f}/{v:.3f} ({diff:+.3f})" for k, (u, v, diff) in enumerate(it.b))
        click.echo(f"  {it.item:<16} a {it.a[0]:.3f}/{it.a[1]:.3f} ({it.a[2]:+.3f})  {bs}")


@params_group.command("link")
@click.argument("name")
@click.option("--to", "base", required=True, help="the base set whose scale NAME is carried onto")
@click.option("--method", type=click.Choice(["stocking-lord", "haebara"]), default="stocking-lord",
              show_default=True)
@click.option("--name", "new_name", default=None, help="name of the new draft set (default NAME-on-BASE)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def params_link(ctx: Context, name: str, base: str, method: str, new_name: str | None, as_json: bool) -> None:
    """Link set NAME onto BASE's scale through their common anchor items: a new draft set."""
    from assessment.parameter_linking import link_set
    from assessment.parameter_sets import set_summary

    with ctx.transaction() as session:
        pset = link_set(session, name, base, method, cli_actor(), new_name=new_name)
        data = set_summary(session, pset)
    if as_json:
        echo_json(data)
        return
    o = data["origin"]

    def se(x: float | None) -> str:
        return f" (SE {x:.4f})" if x is not None else ""

    click.echo(f"linked {name} onto {base} ({method}, {len(o['anchors'])} anchors: {', '.join(o['anchors'])})")
    click.echo(f"  theta_{base} = A theta_{name} + B: A = {o['A']:.4f}{se(o['se_A'])}, B = {o['B']:.4f}{se(o['se_B'])}")
    click.echo(f"  draft parameter set {data['name']} stored ({data['items']} items)")


def _recompute(ctx: Context, window: str) -> None:
    from .results_cli import compute

    data = compute(ctx, window, None, show_progress=False)
    verb = "found stored" if data["reused"] else "computed"
    click.echo(f"{verb} results run {data['run']} for window {window} with parameter set {data['parameter_set']}: "
               f"{data['students_scored']} students scored")


def _echo_outcome(verb: str, outcome: Any) -> None:
    now = outcome.parameter_set or "the provisional set from the item files"
    click.echo(f"{verb}: window {outcome.window} now scores with {now} (before: "
               f"{outcome.previous_set or 'the provisional set from the item files'})")
    direction = "pilot -> operational" if verb == "published" else "operational -> pilot"
    click.echo(f"  items moved {direction}: {', '.join(outcome.moved_items) or 'none'}")


@params_group.command("publish")
@click.argument("name")
@click.option("--window", "window", required=True, help="test window code, e.g. 113")
@click.option("--recompute", is_flag=True, help="then recompute the window's census results with the set")
@click.option("--allow-unconverged", is_flag=True,
              help="publish a set whose calibration did not converge (refused otherwise; audited)")
@pass_ctx
def params_publish(ctx: Context, name: str, window: str, recompute: bool, allow_unconverged: bool) -> None:
    """Make NAME the window's operational set (reversible: `params unpublish`); moves its pilot items to operational."""
    from assessment.parameter_publishing import current_set_id, publish_set

    with ctx.transaction() as session:  # what this researcher sees now; the publish below checks it is unchanged
        seen = current_set_id(session, window)
    with ctx.transaction() as session:
        outcome = publish_set(session, name, window, cli_actor(), expected_set_id=seen,
                              allow_unconverged=allow_unconverged)
    _echo_outcome("published", outcome)
    if recompute:
        _recompute(ctx, window)
    else:
        click.echo(f"  recompute the results with it: ctcensus results compute --window {window}")


@params_group.command("unpublish")
@click.option("--window", "window", required=True, help="test window code, e.g. 113")
@click.option("--recompute", is_flag=True, help="then recompute the window's census results with the restored set")
@pass_ctx
def params_unpublish(ctx: Context, window: str, recompute: bool) -> None:
    """Withdraw the window's latest publication: the set before it returns and its items go back to pilot."""
    from assessment.parameter_publishing import current_set_id, unpublish_window

    with ctx.transaction() as session:
        seen = current_set_id(session, window)
    with ctx.transaction() as session:
        outcome = unpublish_window(session, window, cli_actor(), expected_set_id=seen)
    _echo_outcome("unpublished", outcome)
    if recompute:
        _recompute(ctx, window)


@params_group.command("export")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="parameters CSV as `ctcensus calibrate` writes it; OUT.groups.csv is written beside it")
@pass_ctx
def params_export(ctx: Context, name: str, out: str) -> None:
    """Write set NAME as `ctcensus calibrate` does (OUT.csv and OUT.groups.csv), for `ctcensus score --params`."""
    from assessment import audit
    from assessment.parameter_sets import get_set, write_set_csv
    from scoring.csvio import groups_csv_path

    groups = groups_csv_path(out)
    with ctx.transaction() as session:
        pset = get_set(session, name)
        with output_file(out) as params_tmp, output_file(str(groups)) as groups_tmp:
            n = write_set_csv(session, pset, params_tmp, groups_tmp)
        audit.record(session, cli_actor(), "params.export", pset.name, out=str(Path(out).resolve())[:200], items=n)
    click.echo(f"wrote {n} items of {name} to {out} and its groups to {groups}")
