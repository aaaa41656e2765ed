"""A value computed at most once every few seconds for all workers and hosts, shared through Redis.

Many readers ask for the same snapshot (bureau staff leave the city overview open all day).
A process serves its own copy while that is younger than `max_age`. After that it reads the
shared copy from Redis. If the shared copy is stale, one reader takes a short lock
(SET NX PX) and recomputes while the others keep serving the stale copy. With Redis down,
each process computes for itself, at most once per `max_age`. A thread lock stops a
worker's threads from computing at the same time.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import redis

from .hotstate import REDIS_ERRORS, guard_for

__all__ = ["Snapshot", "SnapshotCache"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """A computed value and when it was computed (epoch seconds)."""

    value: T
    computed_at: float
    raw_at: float = 0.0  # the shared copy's stamp this came from (0: computed here)


class SnapshotCache(Generic[T]):
    """Values by key, each computed at most once per `max_age` seconds across every process sharing `client`.

    `encode`/`decode` turn a value into text and back (JSON, never pickle: whoever can
    write to Redis must not be able to run code here).
    """

    def __init__(self, client: redis.Redis, prefix: str, *, encode: Callable[[T], str], decode: Callable[[str], T],
                 max_age: float = 5.0, keep_seconds: int = 600, lock_seconds: float = 15.0,
                 wait_seconds: float = 3.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_age <= 0:
            raise ValueError(f"max_age must be > 0 seconds; got {max_age!r}")
        self.client = client
        self.prefix = prefix
        self.encode = encode
        self.decode = decode
        self.max_age = max_age
        self.keep_seconds = keep_seconds
        self.lock_ms = int(lock_seconds * 1000)
        self.wait_seconds = wait_seconds
        self.clock = clock
        self.sleep = sleep
        self.guard = guard_for(client)
        self._memo: dict[str, Snapshot[T]] = {}
        self._lock = threading.Lock()
        self.computed = 0  # how often this process computed (tests and benchmarks read it)

    def _key(self, key: str) -> str:
        return f"{self.prefix}snap:{key}"

    def _fresh(self, at: float) -> bool:
        return self.clock() - at < self.max_age

    def get(self, key: str, compute: Callable[[], T]) -> Snapshot[T]:
        """The value of `key`: this process's copy, the shared copy, or computed now (by one reader only)."""
        memo = self._memo.get(key)
        if memo is not None and self._fresh(memo.computed_at):
            return memo
        if self.guard.available():
            try:
                return self._shared(key, compute)
            except REDIS_ERRORS as exc:
                self.guard.failed(exc)
                log.warning("snapshot %s computed without the shared cache: %s", key, exc)
        with self._lock:  # Redis down: one computation per process and max_age
            memo = self._memo.get(key)
            if memo is not None and self._fresh(memo.computed_at):
                return memo
            return self._remember(key, Snapshot(self._compute(compute), self.clock()))

    def forget(self, key: str) -> None:
        """Drop this process's copy and the shared one: the next `get` computes (benchmarks, after a data fix)."""
        self._memo.pop(key, None)
        if self.guard.available():
            try:
                self.client.delete(self._key(key))
            except REDIS_ERRORS as exc:
                self.guard.failed(exc)

    def _compute(self, compute: Callable[[], T]) -> T:
        value = compute()
        self.computed += 1
        return value

    def _remember(self, key: str, snapshot: Snapshot[T]) -> Snapshot[T]:
        self._memo[key] = snapshot
        return snapshot

    def _read(self, key: str) -> tuple[float, str] | None:
        raw = self.client.get(self._key(key))
        if not raw:
            return None
        stamp, _, body = str(raw).partition("\n")
        try:
            return float(stamp), body
        except ValueError:
            return None

    def _from(self, key: str, at: float, body: str) -> Snapshot[T]:
        memo = self._memo.get(key)
        if memo is not None and memo.raw_at == at:
            return memo  # decoded before
        return self._remember(key, Snapshot(self.decode(body), at, at))

    def _shared(self, key: str, compute: Callable[[], T]) -> Snapshot[T]:
        shared = self._read(key)
        if shared is not None and self._fresh(shared[0]):
            return self._from(key, *shared)
        lock_key, token = self._key(key) + ":lock", uuid.uuid4().hex
        if self.client.set(lock_key, token, nx=True, px=self.lock_ms):
            try:
                with self._lock:
                    value = self._compute(compute)
                at = self.clock()
                self.client.set(self._key(key), f"{at!r}\n{self.encode(value)}", ex=self.keep_seconds)
            finally:
                self.client.eval(_RELEASE_LUA, 1, lock_key, token)
            return self._remember(key, Snapshot(value, at, at))
        if shared is not None:  # another reader is computing: the copy a few seconds old will do
            return self._from(key, *shared)
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:  # nothing to serve yet: wait for the first computation
            self.sleep(0.05)
            shared = self._read(key)
            if shared is not None:
                return self._from(key, *shared)
        with self._lock:
            return self._remember(key, Snapshot(self._compute(compute), self.clock()))
