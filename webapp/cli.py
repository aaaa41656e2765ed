"""The `ctcensus` command: the root group and where each command group lives (webapp/commands/).

| command | module |
|---|---|
| `db`, `users` | commands/admin_cli.py |
| `items` | commands/items_cli.py |
| `window`, `forms`, `classes`, `session` (`sessions`), `roster` | commands/testday_cli.py |
| `demo-city`, `demo`, `serve` | commands/server_cli.py |
| `results`, `responses`, `demo-census` | commands/results_cli.py |
| `calibrate`, `score` | commands/scoring_cli.py (`calibrate --window`: commands/calibration_cli.py) |
| `worker` (the research queue's) | commands/calibration_cli.py |
| `simulate-design` | commands/design_cli.py |
| `analysis` (a run's item analysis) | commands/analysis_cli.py |
| `params` (parameter sets) | commands/params_cli.py |
"""
from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from assessment.db import first_line, schema_missing
from webapp.commands.admin_cli import db, users
from webapp.commands.analysis_cli import analysis_command
from webapp.commands.calibration_cli import worker_command
from webapp.commands.common import Context
from webapp.commands.design_cli import simulate_design_command
from webapp.commands.items_cli import items
from webapp.commands.params_cli import params_group
from webapp.commands.results_cli import demo_census_command, responses_group, results_group
from webapp.commands.scoring_cli import calibrate_command, score_command
from webapp.commands.server_cli import demo, demo_city, network_refusal, prepare_demo, serve
from webapp.commands.testday_cli import classes_group, forms_group, roster_group, session_group, window_group

__all__ = ["cli", "main", "network_refusal", "prepare_demo"]


class _Cli(click.Group):
    """The command group: a database without the schema (or with an older one) is a one-line error, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            if not schema_missing(exc):
                raise
            raise click.ClickException(
                f"the database has no ctcensus tables, or an older schema ({first_line(exc)}): run `ctcensus db "
                "upgrade` first (or `./manage.sh demo` for the demo city)") from None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """ctcensus: computational-thinking census engine (Keelung)."""
    # Close the database pool when the command ends (tests invoke many commands in one process).
    click_ctx.call_on_close(click_ctx.ensure_object(Context).close)


def main() -> None:
    """Console-script entry point."""
    cli(obj=Context())


for _command, _name in (
    (db, "db"), (users, "users"), (items, "items"),
    (window_group, "window"), (forms_group, "forms"), (classes_group, "classes"), (session_group, "session"),
    (session_group, "sessions"), (roster_group, "roster"),
    (demo_city, "demo-city"), (demo, "demo"), (serve, "serve"),
    (results_group, "results"), (responses_group, "responses"), (demo_census_command, "demo-census"),
    (calibrate_command, "calibrate"), (score_command, "score"), (worker_command, "worker"),
    (simulate_design_command, "simulate-design"),
    (analysis_command, "analysis"),
    (params_group, "params"),
):
    cli.add_command(_command, _name)

if __name__ == "__main__":
    main()
