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


def _write_config(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.py").write_text(text, encoding="utf-8")


def test_the_instance_config_file_is_one_layer_of_the_one_settings_object(tmp_path: Path) -> None:
    """Issue 12: `<instance>/config.py` is honoured whole (not only its SECRET_KEY, not only by the app)."""
    _write_config(tmp_path, f"DATABASE_URL = 'sqlite:///{tmp_path}/from-file.db'\nREDIS_URL = 'redis://h:1/2'\n"
                            f"SECRET_KEY = '{'k' * 40}'\nMIN_CELL_SIZE = 7\nOVERVIEW_THRESHOLDS = {{}}\n")
    env = {"CTCENSUS_INSTANCE": str(tmp_path)}
    s = Settings.load(environ=env)
    assert (s.database_url, s.redis_url, s.secret_key, s.min_cell_size) == (
        f"sqlite:///{tmp_path}/from-file.db", "redis://h:1/2", "k" * 40, 7)
    assert not s.secret_key_generated
    # the environment wins over the file, explicit overrides over both
    s = Settings.load(environ=env | {"DATABASE_URL": "postgresql://x@h/db", "CTCENSUS_MIN_CELL_SIZE": "12"})
    assert (s.database_url, s.min_cell_size, s.redis_url) == ("postgresql://x@h/db", 12, "redis://h:1/2")
    assert Settings.load({"min_cell_size": 3}, environ=env).min_cell_size == 3
    # production accepts a key set only in the file (the CLI and the server read it the same way)
    assert Settings.load(environ=env | {"CTCENSUS_ENV": "production"}).production


def test_a_bad_instance_config_file_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    _write_config(tmp_path, "MIN_CELL_SIZE = 'ten'\n")
    with pytest.raises(UnsafeConfigError, match=r"config\.py: MIN_CELL_SIZE must be an integer, found 'ten'"):
        Settings.load(environ={"CTCENSUS_INSTANCE": str(tmp_path)})
    _write_config(tmp_path, "SECRET_KEY = \n")
    with pytest.raises(UnsafeConfigError, match=r"config\.py: cannot read it: SyntaxError"):
        Settings.load(environ={"CTCENSUS_INSTANCE": str(tmp_path)})
    _write_config(tmp_path, "SECRET_KEY = 'short'\n")
    with pytest.raises(UnsafeConfigError, match="production needs a real SECRET_KEY"):
        Settings.load(environ={"CTCENSUS_INSTANCE": str(tmp_path), "CTCENSUS_ENV": "production"})


def test_the_cli_and_the_app_use_the_database_named_in_the_instance_config(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: `ctcensus` ignored config.py's DATABASE_URL and made instance/ctcensus.db instead."""
    from click.testing import CliRunner

    from webapp import create_app
    from webapp.cli import Context, cli

    target = tmp_path / "elsewhere.db"
    _write_config(tmp_path / "inst", f"DATABASE_URL = 'sqlite:///{target}'\nSECRET_KEY = '{'s' * 40}'\n")
    env = {"CTCENSUS_INSTANCE": str(tmp_path / "inst"), "DATABASE_URL": "", "REDIS_URL": ""}
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=env, obj=Context(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert target.exists() and not (tmp_path / "inst" / "ctcensus.db").exists()
    for variable in ("DATABASE_URL", "SECRET_KEY", "CTCENSUS_ENV"):
        monkeypatch.delenv(variable, raising=False)
    app = create_app({"INSTANCE_PATH": tmp_path / "inst"})
    services = app.extensions["ctcensus"]
    assert services.settings.database_url == f"sqlite:///{target}" and app.config["SECRET_KEY"] == "s" * 40
