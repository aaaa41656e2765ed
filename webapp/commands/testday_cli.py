"""Test-day set-up: `ctcensus window`, `forms`, `classes`, `session` and `roster`."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from webapp.commands.common import GRADE_CHOICE, Context, cli_actor, echo_json, echo_rows, pass_ctx

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


@click.group("window")
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
    echo_rows(data, as_json=as_json, line=lambda w: f"{w['code']:<8} {w['starts_at']} .. {w['ends_at']}  {w['name']}")


@click.group("forms")
def forms_group() -> None:
    """Test forms built from a blueprint."""


@forms_group.command("build")
@click.option("--grade", required=True, type=GRADE_CHOICE)
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
@click.option("--grade", type=GRADE_CHOICE)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def forms_list(ctx: Context, grade: str | None, as_json: bool) -> None:
    """List forms (every version)."""
    from assessment.forms import form_summary, list_forms

    with ctx.transaction() as session:
        data = [form_summary(f) for f in list_forms(session, int(grade) if grade else None)]
    echo_rows(data, as_json=as_json, noun="forms", line=lambda f: (
        f"{f['id']:>4} {f['code']:<16} v{f['version']} grade {f['grade']} {f['n_items']:>2} items "
        f"{f['time_limit_minutes']} min{' frozen' if f['frozen'] else ''}"))


@click.group("classes")
def classes_group() -> None:
    """Classes of the roster."""


@classes_group.command("list")
@click.option("--school", help="school id or source id")
@click.option("--grade", type=GRADE_CHOICE)
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
    echo_rows(data, as_json=as_json, noun="classes", line=lambda c: (
        f"{c['id']:>5} {c['school']:<10} {c['school_name']:<8} grade {c['grade']} {c['name']:<8} {c['students']} students"))


@click.group("session")
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
    echo_rows(data, as_json=as_json, line=lambda s: (
        f"{s['id']:>5} {s['status']:<7} {s['school']:<10} {s['class']:<8} {s['form']} {s['minutes']} min"))


@session_group.command("sweep")
@pass_ctx
def session_sweep(ctx: Context) -> None:
    """Submit every in-progress attempt past its deadline (run it every minute, e.g. from cron)."""
    from assessment.attempts import sweep_expired

    with ctx.transaction() as session:
        n = sweep_expired(session, actor=cli_actor())
    click.echo(f"{n} attempts submitted at their deadline")



@click.group("roster")
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
