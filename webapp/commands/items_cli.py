"""`ctcensus items`: validate, import, list and export the item bank (YAML and QTI 3.0)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from item_bank import GRADES, ITEM_TYPES, STATUSES
from webapp.commands.common import DIMENSION_CHOICE, GRADE_CHOICE, Context, cli_actor, echo_rows, pass_ctx


@click.group()
def items() -> None:
    """Item bank: validate, list, import, export (QTI 3.0)."""


def load_item_files(path: str, dimension: str | None = None, grades: str | None = None) -> list[Any]:
    """Every item in a folder or file (YAML or QTI), or a ClickException naming what is wrong; never empty."""
    from item_bank import ItemBankError, ItemValidationError, load_bank

    default_grades = tuple(int(g) for g in grades.split(",")) if grades else GRADES
    try:
        loaded = load_bank(Path(path), default_dimension=dimension.upper() if dimension else None,
                           default_grades=default_grades)
    except (ItemBankError, ItemValidationError) as exc:
        raise click.ClickException(str(exc)) from None
    if not loaded:
        raise click.ClickException(_nothing_to_load(Path(path)))
    return loaded


def _nothing_to_load(path: Path) -> str:
    """Why a folder gave no items, and what it should hold (finding nothing is an error, not "0 items")."""
    expected = ("expected item files (*.yaml, walked recursively) or a QTI content package "
                "(imsmanifest.xml with its item .xml files, or a .zip of them)")
    xml = [p for p in path.rglob("*") if p.suffix.lower() == ".xml" and p.is_file()] if path.is_dir() else []
    if xml:
        return (f"{path}: found no items to load: it holds {len(xml)} .xml file(s) but no imsmanifest.xml; "
                f"{expected}. Add the package's imsmanifest.xml, or name one item file "
                f"(e.g. ctcensus items import {xml[0]}).")
    return f"{path}: found no items to load; {expected}."


def _foreign_qti_options(command: Any) -> Any:
    """--dimension and --grades: what a foreign QTI package (no ctcensus metadata) does not say."""
    command = click.option(
        "--grades", type=click.Choice([*(str(g) for g in GRADES), ",".join(str(g) for g in GRADES)]),
        help="grades of foreign QTI items (default 5,8); items with ctcensus metadata keep theirs",
    )(command)
    return click.option(
        "--dimension", type=DIMENSION_CHOICE,
        help="CT dimension of foreign QTI items (required for them); items with ctcensus metadata keep theirs",
    )(command)


@items.command("validate")
@click.argument("path", type=click.Path(exists=True))
@_foreign_qti_options
def items_validate(path: str, dimension: str | None, grades: str | None) -> None:
    """Check item files or a QTI package; print each problem with file, item and field."""
    loaded = load_item_files(path, dimension, grades)
    click.echo(f"{len(loaded)} items valid in {path}")


@items.command("import")
@click.argument("path", type=click.Path(exists=True))
@_foreign_qti_options
@pass_ctx
def items_import(ctx: Context, path: str, dimension: str | None, grades: str | None) -> None:
    """Import items (our YAML or a QTI 2.1/2.2/3.0 package) in one transaction."""
    from assessment.item_store import import_items

    loaded = load_item_files(path, dimension, grades)
    with ctx.transaction() as session:
        report = import_items(session, loaded, actor=cli_actor(), source=str(path))
    click.echo(
        f"imported {len(loaded)} items from {path}: {report.added} new, {report.updated_drafts} drafts updated, "
        f"{report.metadata_updated} with new status or metadata, {report.unchanged} unchanged; {report.parameters} item parameters in "
        f"{', '.join(report.parameter_sets) or 'no parameter set'}"
    )


@items.command("list")
@click.option("--grade", type=GRADE_CHOICE)
@click.option("--dimension", type=DIMENSION_CHOICE)
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--type", "type_", type=click.Choice(ITEM_TYPES), help="item type")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_ctx
def items_list(ctx: Context, grade: str | None, dimension: str | None, status: str | None,
               type_: str | None, as_json: bool) -> None:
    """List the newest version of each stored item."""
    from assessment.item_store import list_items

    with ctx.transaction() as session:
        rows = list_items(session, grade=int(grade) if grade else None, dimension=dimension, status=status, type=type_)
        data = [
            {"id": r.item_id, "version": r.version, "type": r.type, "dimension": r.dimension,
             "grades": [int(g) for g in r.grades.split(",")], "anchor": r.anchor, "status": r.status,
             "max_score": r.max_score, "title": r.content.get("title", {}).get("zh-TW", "")}
            for r in rows
        ]
    echo_rows(data, as_json=as_json, noun="items", line=lambda d: (
        f"{d['id']:<34} v{d['version']} {d['dimension']} {d['type']:<17} grades {','.join(map(str, d['grades'])):<4}"
        f" {'anchor ' if d['anchor'] else '       '}{d['status']:<11} {d['title']}"))


@items.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["qti3"]), default="qti3", show_default=True)
@click.option("--from", "source", type=click.Path(exists=True), help="export item files instead of the database")
@click.option("--all-versions/--latest-only", default=True, show_default=True,
              help="from the database: every stored version (older ones may be used by frozen forms), "
                   "or only the newest version of each item")
@pass_ctx
def items_export(ctx: Context, directory: str, fmt: str, source: str | None, all_versions: bool) -> None:
    """Write a QTI 3.0 content package (imsmanifest.xml + one file per item version)."""
    from item_bank import export_qti3

    if source:
        to_export = load_item_files(source)
    else:
        from assessment.item_store import items_for_export

        with ctx.transaction() as session:
            to_export = items_for_export(session, actor=cli_actor(), target=str(directory), all_versions=all_versions)
            if not to_export:
                raise click.ClickException("the database has no items; import some first or use --from PATH")
    export_qti3(to_export, Path(directory))
    n_ids = len({item.id for item in to_export})
    click.echo(f"exported {len(to_export)} item versions ({n_ids} items) as QTI 3.0 to {directory}")


# --- roster and users ------------------------------------------------------------
