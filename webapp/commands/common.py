"""What every `ctcensus` command shares: the lazily built settings and database, the actor, JSON output."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from assessment.config import Settings, UnsafeConfigError
from assessment.db import make_engine, make_session_factory, session_scope
from assessment.errors import DomainError

__all__ = ["Context", "cli_actor", "echo_json", "output_file", "pass_ctx"]


class Context:
    """Lazily built settings and database for one CLI invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._factory: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.load()
            except UnsafeConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    @property
    def engine(self) -> Engine:
        return self.factory.kw["bind"]

    @property
    def factory(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = make_session_factory(make_engine(self.settings.database_url))
        return self._factory

    def close(self) -> None:
        """Dispose of the engine (and its pooled connections), if one was made."""
        if self._factory is not None:
            self._factory.kw["bind"].dispose()
            self._factory = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction; domain errors become a one-line CLI error and change nothing."""
        try:
            with session_scope(self.factory) as session:
                yield session
        except DomainError as exc:
            raise click.ClickException(exc.message) from None


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def cli_actor() -> str:
    """The audit actor of a command line: cli:<operating-system user>."""
    return f"cli:{os.environ.get('USER', 'unknown')}"


def echo_json(data: Any) -> None:
    """Print JSON for scripts (zh-TW text kept readable)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@contextmanager
def output_file(out: str) -> Iterator[Path]:
    """A temporary file beside `out`, renamed to `out` only when the block succeeds (else removed).

    Refuses at once, naming the path, when `out` is a folder or its folder is missing or not writable,
    so a failed export leaves nothing behind (not even an empty file).
    """
    path = Path(out)
    if path.is_dir():
        raise click.ClickException(f"{out}: is a folder; give the name of the file to write")
    if not path.parent.is_dir():
        raise click.ClickException(f"{out}: the folder {str(path.parent)!r} does not exist; create it first")
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write there ({exc.strerror}); choose another --out") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0o022)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # as an ordinary new file (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
