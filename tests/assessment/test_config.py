from pathlib import Path

import pytest

from assessment.config import DEV_SECRET_KEY, Settings, UnsafeConfigError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'ctcensus.db'}"
    assert s.embedded_redis and s.redis_url == ""
    assert s.secret_key == DEV_SECRET_KEY and not s.production


def test_environment_wins() -> None:
    s = Settings.from_env({"DATABASE_URL": "postgresql://x@h/db", "REDIS_URL": "redis://h:6379/3",
                           "SECRET_KEY": "k" * 32, "CTCENSUS_MIN_CELL_SIZE": "15"})
    assert (s.database_url, s.redis_url, s.min_cell_size) == ("postgresql://x@h/db", "redis://h:6379/3", 15)
    assert not s.embedded_redis


def test_production_refuses_default_secret() -> None:
    with pytest.raises(UnsafeConfigError, match="SECRET_KEY"):
        Settings.from_env({"CTCENSUS_ENV": "production"})
    assert Settings.from_env({"CTCENSUS_ENV": "production", "SECRET_KEY": "s" * 40}).production


def test_bad_integer_is_named() -> None:
    with pytest.raises(UnsafeConfigError, match="CTCENSUS_MIN_CELL_SIZE must be a positive integer, found 'ten'"):
        Settings.from_env({"CTCENSUS_MIN_CELL_SIZE": "ten"})
