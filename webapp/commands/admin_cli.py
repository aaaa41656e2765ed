"""`ctcensus db` (schema migrations) and `ctcensus users` (staff accounts)."""
from __future__ import annotations

import click

from assessment.accounts import ROLES
from webapp.commands.common import Context, cli_actor, pass_ctx


@click.group()
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




@click.group()
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
