"""The app's connections (database, Redis, rate limiter), created once per app."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from assessment.admission import AdmissionGate
from assessment.config import Settings
from assessment.db import make_engine, make_session_factory
from assessment.delivery import DeliveryCache
from assessment.hotstate import RateLimiter, connect_redis
from assessment.reporting_config import ReportingConfig, load_reporting_config

__all__ = ["Services", "admission_gate", "db_session", "init_app", "services"]


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    limiter: RateLimiter
    redis_prefix: str
    delivery: DeliveryCache = field(default_factory=DeliveryCache)  # the student API's hot-path caches
    admission: AdmissionGate | None = None  # sign-in, start and GET /attempt in turn (None: off, the default)
    _reporting: ReportingConfig | None = field(default=None, repr=False)

    def reporting_config(self) -> ReportingConfig:
        """The reporting scale, levels and dimension names (read once per app)."""
        if self._reporting is None:
            self._reporting = load_reporting_config(self.settings.instance_path)
        return self._reporting


def init_app(app: Flask, settings: Settings, redis_prefix: str = "ctc:") -> Services:
    """Create the engine and Redis client and attach them to the app."""
    engine = make_engine(settings.database_url)
    client = connect_redis(settings.redis_url, settings.instance_path)
    svc = Services(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        redis=client,
        limiter=RateLimiter(client, redis_prefix),
        redis_prefix=redis_prefix,
    )
    svc.admission = admission_gate(app)
    app.extensions["ctcensus"] = svc
    app.teardown_appcontext(_close_session)
    return svc


def admission_gate(app: Flask) -> AdmissionGate | None:
    """The worker's admission gate from ADMISSION_LIMIT / CTCENSUS_ADMISSION_LIMIT; None (off) by default.

    With a limit, that many sign-ins, starts and attempt reads are served at once per worker,
    a quarter of the worker's threads (CTCENSUS_THREADS, gunicorn_conf.py) more may wait up to
    CTCENSUS_ADMISSION_WAIT seconds (default 2), and the rest get 503 busy at once. Off by
    default: measured on the demo city's synchronized start (BENCHMARKS.md), the requests
    queue in gunicorn before the app, so the gate only added retries.
    """
    limit = int(app.config.get("ADMISSION_LIMIT", os.environ.get("CTCENSUS_ADMISSION_LIMIT", "0")))
    if limit <= 0:
        return None
    threads = int(os.environ.get("CTCENSUS_THREADS", "8"))
    wait = float(app.config.get("ADMISSION_WAIT", os.environ.get("CTCENSUS_ADMISSION_WAIT", "2")))
    queue = int(app.config.get("ADMISSION_QUEUE", max(1, threads // 4)))
    return AdmissionGate(limit, max_wait=wait, max_queue=queue)


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["ctcensus"]


def db_session() -> Session:
    """The request's database session (closed, and rolled back if uncommitted, at teardown)."""
    if "db" not in g:
        g.db = services().sessions()
    return g.db


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        try:
            session.close()
        except DBAPIError as exc:
            # The rollback at close failed because the database went away after the response was made
            # (a restart): SQLAlchemy has dropped the connection; the response stands (issue 10.5: this
            # escaped the app as a 500 from gunicorn). Any other error is a bug and is raised.
            if not exc.connection_invalidated:
                raise
