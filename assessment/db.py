"""One SQLAlchemy 2.0 declarative base, engine and session factory for the project.

The same code runs on PostgreSQL (production, `DATABASE_URL`) and on an SQLite
file in WAL mode (the embedded default).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "UTCDateTime",
    "first_line",
    "make_engine",
    "make_session_factory",
    "schema_missing",
    "session_scope",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The project's single declarative base (constraint names fixed for migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def utcnow() -> datetime:
    """Timezone-aware now in UTC (all stored times are UTC)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use assessment.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we install; plain postgresql:// would ask for psycopg2.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    if database_url.startswith("sqlite:///"):
        path = database_url[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    elif not database_url.startswith("sqlite"):
        # Enough pooled connections for every gunicorn thread (CTCENSUS_THREADS, default 8) to keep
        # its own: with SQLAlchemy's default of 5, the overflow connections were closed on return and
        # opened again on the next burst, a new PostgreSQL backend each time (measured: issue 10).
        kwargs.setdefault("pool_size", max(5, int(os.environ.get("CTCENSUS_THREADS", "8")) + 2))
    # No pool_pre_ping: it costs a round trip per checkout, i.e. per request on the hot path. A
    # connection that died with a database restart fails once; SQLAlchemy then invalidates the pool's
    # older connections, and the answer save retries once by itself (assessment.delivery).
    engine = create_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself so that writes take the lock up front.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # BEGIN IMMEDIATE avoids SQLITE_BUSY upgrade deadlocks between concurrent writers.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that does not expire objects on commit (views read after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_MISSING_SCHEMA_STATES = ("42P01", "42703")  # PostgreSQL: undefined table, undefined column


def schema_missing(exc: DBAPIError) -> bool:
    """Whether a database error says a table or column is not there (no `db upgrade` yet, or an older one)."""
    if getattr(exc.orig, "sqlstate", None) in _MISSING_SCHEMA_STATES:
        return True
    text = str(exc.orig).lower()
    return "no such table" in text or "no such column" in text


def first_line(exc: DBAPIError) -> str:
    """The driver's message, first line only (SQLAlchemy appends the statement and a link)."""
    return (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
