"""Settings from the environment, with embedded defaults so a fresh laptop works.

Layered like Flask's config: defaults, then environment variables
(`DATABASE_URL`, `REDIS_URL`, `SECRET_KEY`, `CTCENSUS_*`). Production mode
refuses unsafe defaults instead of silently running with them.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["DEV_SECRET_KEY", "Settings", "UnsafeConfigError"]

DEV_SECRET_KEY = "ctcensus-dev-secret-not-for-production"


class UnsafeConfigError(RuntimeError):
    """The configuration would run production with a development default."""


def _default_instance_path() -> Path:
    return Path(os.environ.get("CTCENSUS_INSTANCE", Path.cwd() / "instance")).resolve()


@dataclass(frozen=True)
class Settings:
    """Everything the engine needs to know about its environment."""

    instance_path: Path = field(default_factory=_default_instance_path)
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    env: str = "development"
    min_cell_size: int = 10
    login_rate_per_minute: int = 20
    default_language: str = "zh-TW"

    def __post_init__(self) -> None:
        if not self.database_url:
            db_file = self.instance_path / "ctcensus.db"
            object.__setattr__(self, "database_url", f"sqlite:///{db_file}")

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_redis(self) -> bool:
        """True when no REDIS_URL is given and an embedded redis-server is started."""
        return not self.redis_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from environment variables; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("CTCENSUS_INSTANCE"):
            values["instance_path"] = Path(env["CTCENSUS_INSTANCE"]).resolve()
        if env.get("DATABASE_URL"):
            values["database_url"] = env["DATABASE_URL"]
        if env.get("REDIS_URL"):
            values["redis_url"] = env["REDIS_URL"]
        if env.get("SECRET_KEY"):
            values["secret_key"] = env["SECRET_KEY"]
        if env.get("CTCENSUS_ENV"):
            values["env"] = env["CTCENSUS_ENV"]
        if env.get("CTCENSUS_MIN_CELL_SIZE"):
            values["min_cell_size"] = _positive_int(env, "CTCENSUS_MIN_CELL_SIZE")
        if env.get("CTCENSUS_LOGIN_RATE_PER_MINUTE"):
            values["login_rate_per_minute"] = _positive_int(env, "CTCENSUS_LOGIN_RATE_PER_MINUTE")
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check_safe()
        return settings

    def check_safe(self) -> None:
        """Refuse to run production with the development secret key."""
        if self.production and (self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 16):
            raise UnsafeConfigError(
                "CTCENSUS_ENV=production needs a real SECRET_KEY (at least 16 characters); "
                f"generate one with: python -c 'import secrets; print(secrets.token_hex(32))' "
                f"(example: {secrets.token_hex(4)}...)"
            )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (used by tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _positive_int(env: Mapping[str, str], name: str) -> int:
    raw = env[name]
    try:
        value = int(raw)
    except ValueError:
        raise UnsafeConfigError(f"{name} must be a positive integer, found {raw!r}") from None
    if value <= 0:
        raise UnsafeConfigError(f"{name} must be a positive integer, found {raw!r}")
    return value
