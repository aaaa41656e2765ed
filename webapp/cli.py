"""The `ctcensus` command: every admin job (database, items, roster, demo, server, scoring)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from assessment.accounts import ROLES
from assessment.config import Settings
from item_bank import ITEM_TYPES, STATUSES, content_dir
from webapp.commands.common import Context, cli_actor, echo_json, pass_ctx
from webapp.commands.results_cli import (
    demo_census_command,
    demo_result_urls,
    responses_group,
    results_group,
    run_demo_census,
)
from webapp.commands.scoring_cli import calibrate_command, score_command

__all__ = ["cli", "main"]



@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """ctcensus: computational-thinking census engine (Keelung)."""
    # Close the database pool when the command ends (tests invoke many commands in one process).
    click_ctx.call_on_close(click_ctx.ensure_object(Context).close)


def main() -> None:
    """Console-script entry point."""
    cli(obj=Context())


# --- database -------------------------------------------------------------------

@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the schema to the newest revision."""
    from assessment.migrate import current_revision, upgrade

    upgrade(ctx.engine)
    click.echo(f"database at revision {current_revision(ctx.engine)} ({_safe_url(ctx.settings.database_url)})")


@db.command("current")
@pass_ctx
def db_current(ctx: Context) -> None:
    """Print the schema revision the database is at."""
    from assessment.migrate import current_revision, head_revision

    click.echo(f"current: {current_revision(ctx.engine)}  head: {head_revision(ctx.engine)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- items ----------------------------------------------------------------------

@cli.group()
def items() -> None:
    """Item bank: validate, list, import, export (QTI 3.0)."""


def _load(path: str, dimension: str | None = None, grades: str | None = None) -> list[Any]:
    from item_bank import GRADES, ItemBankError, ItemValidationError, load_bank

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
        "--grades", type=click.Choice(["5", "8", "5,8"]),
        help="grades of foreign QTI items (default 5,8); items with ctcensus metadata keep theirs",
    )(command)
    return click.option(
        "--dimension", type=click.Choice(["D1", "D2", "D3", "D4"], case_sensitive=False),
        help="CT dimension of foreign QTI items (required for them); items with ctcensus metadata keep theirs",
    )(command)


@items.command("validate")
@click.argument("path", type=click.Path(exists=True))
@_foreign_qti_options
def items_validate(path: str, dimension: str | None, grades: str | None) -> None:
    """Check item files or a QTI package; print each problem with file, item and field."""
    loaded = _load(path, dimension, grades)
    click.echo(f"{len(loaded)} items valid in {path}")


@items.command("import")
@click.argument("path", type=click.Path(exists=True))
@_foreign_qti_options
@pass_ctx
def items_import(ctx: Context, path: str, dimension: str | None, grades: str | None) -> None:
    """Import items (our YAML or a QTI 2.1/2.2/3.0 package) in one transaction."""
    from assessment.item_store import import_items

    loaded = _load(path, dimension, grades)
    with ctx.transaction() as session:
        report = import_items(session, loaded, actor=cli_actor(), source=str(path))
    click.echo(
        f"imported {len(loaded)} items from {path}: {report.added} new, {report.updated_drafts} drafts updated, "
        f"{report.metadata_updated} with new status or metadata, {report.unchanged} unchanged; {report.parameters} item parameters in "
        f"{', '.join(report.parameter_sets) or 'no parameter set'}"
    )


@items.command("list")
@click.option("--grade", type=click.Choice(["5", "8"]))
@click.option("--dimension", type=click.Choice(["D1", "D2", "D3", "D4"], case_sensitive=False))
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
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for d in data:
        click.echo(f"{d['id']:<34} v{d['version']} {d['dimension']} {d['type']:<17} grades {','.join(map(str, d['grades'])):<4}"
                   f" {'anchor ' if d['anchor'] else '       '}{d['status']:<11} {d['title']}")
    click.echo(f"{len(data)} items")


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
        to_export = _load(source)
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

@cli.command("demo-city")
@click.option("--seed", default=113, show_default=True)
@pass_ctx
def demo_city(ctx: Context, seed: int) -> None:
    """Generate the synthetic Keelung roster (7 districts, 50 schools, ~5,350 students)."""
    from assessment.roster import generate_demo_city

    with ctx.transaction() as session:
        city = generate_demo_city(session, seed=seed, actor=cli_actor())
    click.echo(
        f"demo city: {city.districts} districts, {city.elementary_schools} elementary + "
        f"{city.junior_high_schools} junior-high schools, {city.classes} classes, "
        f"{city.grade5_students} grade-5 and {city.grade8_students} grade-8 students "
        f"({city.one_class_schools} one-class schools)"
    )


@cli.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--school", help="school source id (school_admin, proctor, teacher)")
@click.option("--class", "classes", multiple=True, help="class source id a teacher teaches (repeatable)")
@click.password_option()
@pass_ctx
def users_create(ctx: Context, username: str, role: str, school: str | None, classes: tuple[str, ...],
                 password: str) -> None:
    """Create a staff user (password asked twice, stored as a scrypt hash)."""
    from assessment.accounts import create_user

    with ctx.transaction() as session:
        create_user(session, username, password, role, school_source_id=school, class_source_ids=classes,
                    actor=cli_actor())
    click.echo(f"created {role} {username}")


@users.command("signout-all")
@click.argument("username")
@pass_ctx
def users_signout_all(ctx: Context, username: str) -> None:
    """End every login session of USERNAME on every device (audited); the user signs in again."""
    from assessment.accounts import find_user, sign_out_everywhere

    with ctx.transaction() as session:
        sign_out_everywhere(session, find_user(session, username), actor=cli_actor())
    click.echo(f"signed out {username} everywhere")


@users.command("set-password")
@click.argument("username")
@click.password_option()
@pass_ctx
def users_set_password(ctx: Context, username: str, password: str) -> None:
    """Set USERNAME's password (asked twice); ends every session of the user (audited)."""
    from assessment.accounts import change_password, find_user

    with ctx.transaction() as session:
        change_password(session, find_user(session, username), password, actor=cli_actor())
    click.echo(f"password of {username} changed; every session of {username} ended")


# --- delivery: windows, forms, classes, sessions ------------------------------------

TAIPEI = timezone(timedelta(hours=8))  # Taiwan has no daylight saving time
_MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns; a larger one is an option error, not an OverflowError


def _parse_when(value: str, *, end_of_day: bool = False) -> datetime:
    """ISO date or date-time; without a zone it is Taiwan time; a bare date means its start (or end)."""
    try:
        # any ISO date form (2026-05-04, 20260504, 2026-W19-1) is a whole day, decided by parsing, not length
        day = date.fromisoformat(value.strip())
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0), tzinfo=TAIPEI)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2026-05-04 or 2026-05-04T08:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=TAIPEI)


@cli.group("window")
def window_group() -> None:
    """Test windows (the unit results are computed for, e.g. the 113 census)."""


@window_group.command("create")
@click.option("--code", required=True, help="e.g. 113")
@click.option("--name", required=True, help="e.g. '113 學年度運算思維普測'")
@click.option("--starts", required=True, help="ISO date or date-time (Taiwan time unless a zone is given)")
@click.option("--ends", required=True, help="ISO date or date-time (a bare date means the end of that day)")
@click.option("--academic-year", type=click.IntRange(1, 9999),
              help="ROC (e.g. 113) or AD year, 1-9999; defaults to the leading digits of the code")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def window_create(ctx: Context, code: str, name: str, starts: str, ends: str, academic_year: int | None,
                  as_json: bool) -> None:
    """Create a test window."""
    from assessment.windows import create_window

    with ctx.transaction() as session:
        window = create_window(session, code, name, _parse_when(starts), _parse_when(ends, end_of_day=True),
                               academic_year=academic_year, actor=cli_actor())
        data = _window_dict(window)
    if as_json:
        echo_json(data)
    else:
        click.echo(f"created test window {data['code']} ({data['name']}): {data['starts_at']} .. {data['ends_at']}")


def _window_dict(w: Any) -> dict[str, Any]:
    return {"id": w.id, "code": w.code, "name": w.name, "academic_year": w.academic_year,
            "starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat()}


@window_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def window_list(ctx: Context, as_json: bool) -> None:
    """List test windows."""
    from assessment.windows import list_windows

    with ctx.transaction() as session:
        data = [_window_dict(w) for w in list_windows(session)]
    if as_json:
        echo_json(data)
        return
    for w in data:
        click.echo(f"{w['code']:<8} {w['starts_at']} .. {w['ends_at']}  {w['name']}")


@cli.group("forms")
def forms_group() -> None:
    """Test forms built from a blueprint."""


@forms_group.command("build")
@click.option("--grade", required=True, type=click.Choice(["5", "8"]))
@click.option("--code", help="form code (default G<grade>-S<seed>); booklets get -A, -B, ...")
@click.option("--booklets", default=1, show_default=True, help="rotated booklets sharing the anchors")
@click.option("--seed", default=1, show_default=True, help="same seed for grades 5 and 8 = same anchors")
@click.option("--per-dimension", type=int, help="items per CT dimension, anchors included (default 5 / 6)")
@click.option("--anchors", type=int, help="anchor items (default 8, capped to the bank)")
@click.option("--minutes", type=int, help="time limit (default 35 / 40)")
@click.option("--shuffle-options/--no-shuffle", default=True, show_default=True,
              help="shuffle option order per student; --no-shuffle only for printed forms (one fixed order)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def forms_build(ctx: Context, grade: str, code: str | None, booklets: int, seed: int, per_dimension: int | None,
                anchors: int | None, minutes: int | None, shuffle_options: bool, as_json: bool) -> None:
    """Build a form (or rotated booklets) out of the operational items."""
    from assessment.forms import build_forms, default_blueprint, form_summary

    with ctx.transaction() as session:
        blueprint = default_blueprint(session, int(grade), seed=seed, per_dimension=per_dimension, anchors=anchors,
                                      time_limit_minutes=minutes, shuffle_options=shuffle_options)
        built = build_forms(session, blueprint, code=code, booklets=booklets, actor=cli_actor())
        data = [form_summary(f) for f in built]
    if as_json:
        echo_json(data)
        return
    for f in data:
        click.echo(f"form {f['id']}: {f['code']} v{f['version']} grade {f['grade']}, {f['n_items']} items "
                   f"({', '.join(f'{d} {n}' for d, n in f['items_per_dimension'].items())}; "
                   f"{len(f['anchors'])} anchors), {f['time_limit_minutes']} min")


@forms_group.command("list")
@click.option("--grade", type=click.Choice(["5", "8"]))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def forms_list(ctx: Context, grade: str | None, as_json: bool) -> None:
    """List forms (every version)."""
    from assessment.forms import form_summary, list_forms

    with ctx.transaction() as session:
        data = [form_summary(f) for f in list_forms(session, int(grade) if grade else None)]
    if as_json:
        echo_json(data)
        return
    for f in data:
        click.echo(f"{f['id']:>4} {f['code']:<16} v{f['version']} grade {f['grade']} {f['n_items']:>2} items "
                   f"{f['time_limit_minutes']} min{' frozen' if f['frozen'] else ''}")
    click.echo(f"{len(data)} forms")


@cli.group("classes")
def classes_group() -> None:
    """Classes of the roster."""


@classes_group.command("list")
@click.option("--school", help="school id or source id")
@click.option("--grade", type=click.Choice(["5", "8"]))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def classes_list(ctx: Context, school: str | None, grade: str | None, as_json: bool) -> None:
    """List classes with their school and number of students."""
    from assessment.sessions import list_classes

    kwargs: dict[str, Any] = {"grade": int(grade) if grade else None}
    if school is not None:
        by_id = re.fullmatch(r"[0-9]{1,9}", school) is not None
        kwargs["school_id" if by_id else "school_source_id"] = int(school) if by_id else school
    with ctx.transaction() as session:
        data = list_classes(session, **kwargs)
    if as_json:
        echo_json(data)
        return
    for c in data:
        click.echo(f"{c['id']:>5} {c['school']:<10} {c['school_name']:<8} grade {c['grade']} {c['name']:<8} "
                   f"{c['students']} students")
    click.echo(f"{len(data)} classes")


@cli.group("session")
def session_group() -> None:
    """Test sessions: open one for a class, list, expire overdue attempts."""


@session_group.command("create")
@click.option("--class", "class_ids", required=True, type=click.IntRange(1, _MAX_ID), multiple=True,
              help="class id (ctcensus classes list); repeat to open one session per class in one transaction")
@click.option("--form", "form_id", required=True, type=click.IntRange(1, _MAX_ID), help="form id (ctcensus forms list)")
@click.option("--minutes", type=int, help="time limit (default: the form's)")
@click.option("--window", "window_code", help="test window code (default: the one open now, or the only one)")
@click.option("--json", "as_json", is_flag=True, help="print JSON (one object, or a list for several classes)")
@pass_ctx
def session_create(ctx: Context, class_ids: tuple[int, ...], form_id: int, minutes: int | None,
                   window_code: str | None, as_json: bool) -> None:
    """Open a session: one attempt and ticket per student; prints the tickets."""
    from assessment.sessions import create_session, session_summary

    with ctx.transaction() as session:
        # a class named twice gets one session (one ticket per student), not two
        opened = [create_session(session, class_id=class_id, form_id=form_id, minutes=minutes,
                                 window_code=window_code, actor=cli_actor()) for class_id in dict.fromkeys(class_ids)]
        summaries = [session_summary(session, test_session) for test_session in opened]
    if as_json:
        echo_json(summaries[0] if len(summaries) == 1 else summaries)
        return
    for data in summaries:
        click.echo(f"session {data['id']}: {data['class']} ({data['school']}), form {data['form']}, "
                   f"{data['minutes']} min, window {data['window']}")
        for t in data["tickets"]:
            click.echo(f"  {t['seat'] if t['seat'] is not None else '-':>3} {t['name']:<8} {t['ticket']}")
        click.echo(f"printable ticket sheet: /proctor/sessions/{data['id']}/tickets")


@session_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def session_list(ctx: Context, as_json: bool) -> None:
    """List sessions, newest first."""
    from assessment.sessions import list_sessions, session_summary

    with ctx.transaction() as session:
        data = [session_summary(session, s, with_tickets=False) for s in list_sessions(session)]
    if as_json:
        echo_json(data)
        return
    for s in data:
        click.echo(f"{s['id']:>5} {s['status']:<7} {s['school']:<10} {s['class']:<8} {s['form']} {s['minutes']} min")


@session_group.command("sweep")
@pass_ctx
def session_sweep(ctx: Context) -> None:
    """Submit every in-progress attempt past its deadline (run it every minute, e.g. from cron)."""
    from assessment.attempts import sweep_expired

    with ctx.transaction() as session:
        n = sweep_expired(session, actor=cli_actor())
    click.echo(f"{n} attempts submitted at their deadline")


cli.add_command(session_group, "sessions")


@cli.group("roster")
def roster_group() -> None:
    """Roster import."""


@roster_group.command("import")
@click.argument("path", type=click.Path(exists=True))
@pass_ctx
def roster_import(ctx: Context, path: str) -> None:
    """Import a OneRoster 1.2 CSV package (zip or folder) in one transaction; re-import updates by sourcedId."""
    from assessment.oneroster import import_oneroster

    with ctx.transaction() as session:
        report = import_oneroster(session, Path(path), actor=cli_actor())
    click.echo(report.describe())


# --- demo and server ---------------------------------------------------------------

def prepare_demo(ctx: Context, url: str = "http://127.0.0.1:5000", *, census: bool = True) -> list[str]:
    """Schema, then whatever part of the demo is missing (the simulated census too); returns the lines to print."""
    from assessment.demo import DEMO_ACCOUNTS, DEMO_WINDOW, seed_demo
    from assessment.migrate import upgrade

    upgrade(ctx.engine)
    bank = _load(str(content_dir()))
    with ctx.transaction() as session:
        demo = seed_demo(session, bank)
        lines = [f"item bank: {demo.items} starter items ({demo.items_added} newly imported)"]
        if demo.city is not None:
            lines.append(f"demo city: {demo.city.elementary_schools + demo.city.junior_high_schools} schools, "
                         f"{demo.city.grade5_students} grade-5 and {demo.city.grade8_students} grade-8 students")
        lines.append("demo logins (staff):")
        for username, (role, password, school) in DEMO_ACCOUNTS.items():
            lines.append(f"  {username:<11} / {password:<20} ({role}{', school ' + school if school else ''})")
        for form in demo.forms:
            lines.append(f"form {form.id}: {form.code} v{form.version}, grade {form.grade}, "
                         f"{len(form.items)} items, {form.time_limit_minutes} min")
        ts = demo.session
        if ts is not None:
            klass = ts.school_class
            lines.append(f"test session {ts.id}: {klass.school.name_zh} {klass.name}, form {ts.form.code}, "
                         f"{ts.time_limit_minutes} min")
            lines.append(f"students: open {url}/take and type a ticket:")
            for row in demo.tickets:
                seat = row.seat if row.seat is not None else "-"
                lines.append(f"  seat {seat:>2}  {row.name:<6} {row.ticket_display}")
            lines.append(f"proctor (log in as 'proctor'): printable tickets at {url}/proctor/sessions/{ts.id}/tickets, "
                         f"live class view at {url}/proctor/sessions/{ts.id}")
    if census:
        lines += run_demo_census(ctx, DEMO_WINDOW)
        lines += demo_result_urls(ctx, url)
        lines.append(f"exports: {url}/results, or `ctcensus results export --window {DEMO_WINDOW} --level school "
                     f"--out schools.csv`")
    return lines


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--no-serve", is_flag=True, help="prepare the demo data and exit")
@click.option("--no-census", is_flag=True,
              help="skip the simulated census and its results (every other class stays free for sessions, "
                   "e.g. for python -m loadtest)")
@pass_ctx
def demo(ctx: Context, host: str, port: int, workers: int, no_serve: bool, no_census: bool) -> None:
    """Prepare the demo (schema, starter items, demo city, logins) and start the server."""
    if not no_serve:
        _check_bind(ctx, host)
        _check_port(host, port)
    for line in prepare_demo(ctx, url=f"http://{host}:{port}", census=not no_census):
        click.echo(line)
    if not no_serve:
        _serve(ctx, host, port, workers)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True)
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Run the web app under gunicorn (starting the embedded Redis when REDIS_URL is unset)."""
    _serve(ctx, host, port, workers)


def network_refusal(settings: Settings, host: str) -> str | None:
    """Why the server must not listen on `host` with these settings, or None when it may.

    Without a configured SECRET_KEY (the instance's generated key, or the
    published development key) the server answers on the loopback interface only.
    """
    if _loopback(host) or not (settings.secret_key_generated or settings.weak_secret_key):
        return None
    return (f"refusing to serve on {host} without a configured SECRET_KEY (the development key is for "
            "127.0.0.1 only); set SECRET_KEY (python -c 'import secrets; print(secrets.token_hex(32))') "
            "or use --host 127.0.0.1")


def _loopback(host: str) -> bool:
    import ipaddress

    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_bind(ctx: Context, host: str) -> None:
    reason = network_refusal(ctx.settings, host)
    if reason:
        raise click.ClickException(reason)


def _socket_host(host: str, *, connect: bool = False) -> str:
    """`host` as the socket calls take it; to connect to a wildcard address, its loopback."""
    name = host.strip("[]")
    if connect and name in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if connect and name == "::":
        return "::1"
    return name


def _check_port(host: str, port: int) -> None:
    """Refuse at once, naming the port, when `host:port` cannot be bound (gunicorn would retry, then fail)."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(_socket_host(host), port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another ctcensus or web server?); stop that program "
                f"or choose another port with --port") from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _accepts_connections(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((_socket_host(host, connect=True), port), timeout=0.5):
            return True
    except OSError:
        return False


def _serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Run gunicorn until it stops; say "running" only once the port accepts connections.

    Exits with gunicorn's status when it fails (status 1 when it ends without
    ever listening), so scripts and service managers see the failure.
    """
    import time

    from assessment.hotstate import embedded_redis_url

    _check_bind(ctx, host)
    _check_port(host, port)

    env = dict(os.environ)
    env.setdefault("CTCENSUS_INSTANCE", str(ctx.settings.instance_path))
    if not ctx.settings.redis_url:
        # One embedded redis-server, owned by this process, shared by every worker.
        env["REDIS_URL"] = embedded_redis_url(ctx.settings.instance_path)
    conf = Path(__file__).resolve().parent / "gunicorn_conf.py"
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(conf), "-b", f"{host}:{port}", "-w", str(workers),
           "webapp:create_app()"]
    server = subprocess.Popen(cmd, env=env)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        server.terminate()

    # A stop by SIGTERM (kill, systemd, a container runtime) ends gunicorn gracefully and then
    # this process normally, so the embedded redis-server it owns is shut down at exit too.
    signal.signal(signal.SIGTERM, stop)
    listening = False
    while True:
        try:
            if listening:
                status = server.wait()
                break
            polled = server.poll()
            if polled is not None:
                status = polled
                break
            if _accepts_connections(host, port):
                listening = True
                click.echo(f"ctcensus is running at http://{host}:{port}/  (Ctrl+C to stop)")
            else:
                time.sleep(0.1)
        except KeyboardInterrupt:
            stopping = True  # Ctrl+C reached gunicorn too (same process group): wait for it to finish
    if status != 0 or not (listening or stopping):
        click.echo(f"ctcensus: gunicorn exited with status {status} "
                   f"{'' if listening else f'before listening on {host}:{port} '}(its messages are above)", err=True)
        sys.exit(status or 1)


cli.add_command(calibrate_command, "calibrate")
cli.add_command(score_command, "score")
cli.add_command(results_group, "results")
cli.add_command(responses_group, "responses")
cli.add_command(demo_census_command, "demo-census")

if __name__ == "__main__":
    main()
