"""Alembic environment: runs migrations on the engine given by assessment.migrate."""
from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from assessment import models  # noqa: F401  (registers the tables)
from assessment.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL; run migrations with `ctcensus db upgrade`")
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `ctcensus db upgrade`")
run_migrations_online()
