"""Settings from the environment, with embedded defaults so a fresh laptop works.

Layered like Flask's config, and read once by `Settings.load` for the app, the
CLI and the server alike: defaults, then the instance's `config.py`, then
environment variables (`DATABASE_URL`, `REDIS_URL`, `SECRET_KEY`, `CTCENSUS_*`),
then explicit overrides. Production mode refuses unsafe defaults instead of
silently running with them.
"""
from __future__ import annotations

import os
import runpy
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["CONFIG_KEYS", "DEV_SECRET_KEY", "Settings", "UnsafeConfigError", "instance_config", "instance_secret_key"]

# Names in `<instance>/config.py` (and the app factory's test config) -> Settings fields, with the
# environment variable that overrides each.
CONFIG_KEYS = {
    "DATABASE_URL": ("database_url", "DATABASE_URL"),
    "REDIS_URL": ("redis_url", "REDIS_URL"),
    "SECRET_KEY": ("secret_key", "SECRET_KEY"),
    "INSTANCE_PATH": ("instance_path", "CTCENSUS_INSTANCE"),
    "CTCENSUS_ENV": ("env", "CTCENSUS_ENV"),
    "MIN_CELL_SIZE": ("min_cell_size", "CTCENSUS_MIN_CELL_SIZE"),
    "LOGIN_RATE_PER_MINUTE": ("login_rate_per_minute", "CTCENSUS_LOGIN_RATE_PER_MINUTE"),
    "PROXY_COUNT": ("proxy_count", "CTCENSUS_PROXY_COUNT"),
}
_INTEGER_FIELDS = {"min_cell_size", "login_rate_per_minute", "proxy_count"}

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

    @classmethod
    def load(cls, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of this instance, as the app, the CLI and `serve` all read them.

        Precedence: `overrides`, then environment variables, then the instance's
        `config.py` (its `DATABASE_URL`, `REDIS_URL`, `SECRET_KEY`, ... : `CONFIG_KEYS`),
        then the defaults (outside production, the instance's own random key).
        """
        env = os.environ if environ is None else environ
        values = dict(overrides or {})
        if values.get("instance_path"):
            instance = Path(str(values["instance_path"])).resolve()
        elif env.get("CTCENSUS_INSTANCE"):
            instance = Path(env["CTCENSUS_INSTANCE"]).resolve()
        else:
            instance = _default_instance_path()
        for key, value in instance_config(instance).items():
            name, variable = CONFIG_KEYS[key]
            if name not in values and not env.get(variable):
                values[name] = value
        return cls.from_env(env, **values)

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


def instance_config(instance_path: Path) -> dict[str, object]:
    """The settings (`CONFIG_KEYS`) that `<instance>/config.py` sets, checked; {} without the file.

    The file is Python, as Flask's instance config is; other upper-case names in it
    (e.g. OVERVIEW_THRESHOLDS) are the app's and are read by the app factory.
    """
    path = Path(instance_path) / "config.py"
    if not path.is_file():
        return {}
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:  # any error in the operator's file: say which file and what
        raise UnsafeConfigError(f"{path}: cannot read it: {type(exc).__name__}: {exc}") from None
    found: dict[str, object] = {}
    for key in CONFIG_KEYS.keys() - {"INSTANCE_PATH"}:
        if key not in namespace:
            continue
        value = namespace[key]
        name = CONFIG_KEYS[key][0]
        wanted = int if name in _INTEGER_FIELDS else str
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise UnsafeConfigError(f"{path}: {key} must be {'an integer' if wanted is int else 'a string'}, "
                                    f"found {value!r}")
        found[key] = value
    return found


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
