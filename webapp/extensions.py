"""The app's connections (database, Redis, rate limiter), created once per app."""
from __future__ import annotations

from dataclasses import dataclass, field

import redis
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from assessment.config import Settings
from assessment.db import make_engine, make_session_factory
from assessment.delivery import DeliveryCache
from assessment.hotstate import RateLimiter, connect_redis
from assessment.reporting_config import ReportingConfig, load_reporting_config

__all__ = ["Services", "db_session", "init_app", "services"]


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    limiter: RateLimiter
    redis_prefix: str
    delivery: DeliveryCache = field(default_factory=DeliveryCache)  # the student API's hot-path caches
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
    app.extensions["ctcensus"] = svc
    app.teardown_appcontext(_close_session)
    return svc


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
        session.close()
