"""Settings from the environment, with embedded defaults so a fresh laptop works.

Layered like Flask's config: defaults, then environment variables
(`DATABASE_URL`, `REDIS_URL`, `SECRET_KEY`, `CTCENSUS_*`). Production mode
refuses unsafe defaults instead of silently running with them.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["DEV_SECRET_KEY", "Settings", "UnsafeConfigError", "instance_secret_key"]

# Published in earlier releases: a key anyone can sign with. Never used; refused wherever it is configured.
DEV_SECRET_KEY = "ctcensus-dev-secret-not-for-production"
SECRET_KEY_FILE = "secret_key"


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
    secret_key: str = ""
    secret_key_generated: bool = False  # True: the instance's own random key, not a configured SECRET_KEY
    env: str = "development"
    min_cell_size: int = 10
    login_rate_per_minute: int = 20
    proxy_count: int = 0
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
        if env.get("CTCENSUS_PROXY_COUNT"):
            values["proxy_count"] = _non_negative_int(env, "CTCENSUS_PROXY_COUNT")
        values.update(overrides)
        if not values.get("secret_key") and values.get("env", cls.env) != "production":
            instance = Path(str(values["instance_path"])) if "instance_path" in values else _default_instance_path()
            values["secret_key"] = instance_secret_key(instance)
            values["secret_key_generated"] = True
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check_safe()
        return settings

    @property
    def weak_secret_key(self) -> bool:
        """The key is missing, the published development key, or too short to resist guessing."""
        return self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 16

    def check_safe(self) -> None:
        """Refuse to run production with the development secret key."""
        if self.production and (self.weak_secret_key or self.secret_key_generated):
            raise UnsafeConfigError(
                "CTCENSUS_ENV=production needs a real SECRET_KEY (at least 16 characters); "
                f"generate one with: python -c 'import secrets; print(secrets.token_hex(32))' "
                f"(example: {secrets.token_hex(4)}...)"
            )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (used by tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def instance_secret_key(instance_path: Path) -> str:
    """The instance's own random signing key, created (mode 0600) on first use and reused afterwards.

    Used when no SECRET_KEY is configured outside production, so a development
    server never signs with a key anyone knows. Safe when several workers start
    at once: each writes a complete key to a private temporary file and links it
    into place; the first link wins and every process reads the winner.
    """
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=folder)  # created with mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another worker won the race: use its key
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise UnsafeConfigError(f"{path} holds no usable key ({len(key)} characters); delete it to make a new one")
    return key


def _non_negative_int(env: Mapping[str, str], name: str) -> int:
    raw = env[name]
    try:
        value = int(raw)
    except ValueError:
        raise UnsafeConfigError(f"{name} must be an integer >= 0, found {raw!r}") from None
    if value < 0:
        raise UnsafeConfigError(f"{name} must be an integer >= 0, found {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str) -> int:
    raw = env[name]
    try:
        value = int(raw)
    except ValueError:
        raise UnsafeConfigError(f"{name} must be a positive integer, found {raw!r}") from None
    if value <= 0:
        raise UnsafeConfigError(f"{name} must be a positive integer, found {raw!r}")
    return value
