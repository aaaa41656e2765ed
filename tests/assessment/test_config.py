from pathlib import Path

import pytest

from assessment.config import DEV_SECRET_KEY, Settings, UnsafeConfigError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'ctcensus.db'}"
    assert s.embedded_redis and s.redis_url == ""
    assert s.secret_key != DEV_SECRET_KEY and not s.production


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


def test_development_key_is_random_per_instance_private_and_reused(tmp_path: Path) -> None:
    """Issue 8 item 6: no published key; one random key per instance folder, mode 0600, kept across starts."""
    first = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path / "a")})
    assert first.secret_key != DEV_SECRET_KEY and len(first.secret_key) >= 32 and first.secret_key_generated
    key_file = tmp_path / "a" / "secret_key"
    assert key_file.read_text().strip() == first.secret_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path / "a")}).secret_key == first.secret_key
    assert Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path / "b")}).secret_key != first.secret_key
    explicit = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path / "c"), "SECRET_KEY": "e" * 32})
    assert explicit.secret_key == "e" * 32 and not explicit.secret_key_generated
    assert not (tmp_path / "c" / "secret_key").exists()


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    """Several processes creating the instance key at once all end up with the same one."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = "from assessment.config import Settings; print(Settings.from_env().secret_key)"
    env = {**os.environ, "CTCENSUS_INSTANCE": str(tmp_path / "inst"), "PYTHONPATH": str(root)}
    env.pop("SECRET_KEY", None)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    keys = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(keys) == 1 and (tmp_path / "inst" / "secret_key").read_text().strip() in keys
    assert [p.name for p in (tmp_path / "inst").iterdir()] == ["secret_key"]  # no temporary files left
