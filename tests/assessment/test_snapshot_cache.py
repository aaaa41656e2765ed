"""The shared snapshot cache: one computation per few seconds for every worker, stale copies while one recomputes."""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from assessment.hotstate import connect_redis
from assessment.snapshot_cache import SnapshotCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def caches(app: Any, n: int, clock: Clock | None = None, **kw: Any) -> list[SnapshotCache[dict[str, int]]]:
    """`n` caches on the same Redis: as `n` gunicorn workers (or hosts) would have."""
    svc = app.extensions["ctcensus"]
    return [SnapshotCache(svc.redis, svc.redis_prefix, encode=json.dumps, decode=json.loads, max_age=5.0,
                          clock=clock or time.time, **kw) for _ in range(n)]


def test_concurrent_workers_compute_once(app) -> None:  # type: ignore[no-untyped-def]
    workers = caches(app, 6)
    calls: list[int] = []
    barrier = threading.Barrier(len(workers))
    results: list[Any] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.3)  # a slow computation: everyone else arrives while it runs
        return {"n": len(calls)}

    def read(cache: SnapshotCache[dict[str, int]]) -> None:
        barrier.wait()
        results.append(cache.get("city", compute).value)

    threads = [threading.Thread(target=read, args=(c,)) for c in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(calls) == 1 and results == [{"n": 1}] * len(workers)
    assert sum(c.computed for c in workers) == 1


def test_stale_copies_are_served_while_one_worker_recomputes(app) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    a, b = caches(app, 2, clock)
    n = iter(range(1, 100))
    assert a.get("k", lambda: {"v": next(n)}).value == {"v": 1}
    assert b.get("k", lambda: {"v": next(n)}).value == {"v": 1}  # the shared copy, not computed again
    clock.now += 4.9
    assert a.get("k", lambda: {"v": next(n)}).value == {"v": 1}  # still fresh: no Redis round trip needed
    clock.now += 0.2  # now stale; b holds the lock while it recomputes
    svc = app.extensions["ctcensus"]
    seen_during: list[Any] = []

    def slow() -> dict[str, int]:
        seen_during.append(a.get("k", lambda: {"v": -1}).value)  # another worker reads meanwhile
        return {"v": next(n)}

    assert b.get("k", slow).value == {"v": 2}
    assert seen_during == [{"v": 1}]  # the stale copy, not a second computation
    assert a.get("k", lambda: {"v": -1}).value == {"v": 2}
    assert svc.redis.get(f"{svc.redis_prefix}snap:k:lock") is None  # the lock is released


def test_a_failed_computation_releases_the_lock(app) -> None:  # type: ignore[no-untyped-def]
    (cache,) = caches(app, 1)

    def broken() -> dict[str, int]:
        raise RuntimeError("database down")

    try:
        cache.get("k", broken)
    except RuntimeError:
        pass
    assert cache.get("k", lambda: {"v": 1}).value == {"v": 1}


def test_without_redis_each_process_computes_once_per_max_age(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead = connect_redis("redis://127.0.0.1:1/0", tmp_path)  # nothing listens on port 1
    clock = Clock()
    cache: SnapshotCache[dict[str, int]] = SnapshotCache(dead, "x:", encode=json.dumps, decode=json.loads,
                                                         clock=clock)
    n = iter(range(1, 100))
    assert cache.get("k", lambda: {"v": next(n)}).value == {"v": 1}
    assert cache.get("k", lambda: {"v": next(n)}).value == {"v": 1}
    clock.now += 6
    assert cache.get("k", lambda: {"v": next(n)}).value == {"v": 2}
    assert cache.computed == 2


def test_forget_makes_the_next_reader_compute(app) -> None:  # type: ignore[no-untyped-def]
    a, b = caches(app, 2)
    assert a.get("k", lambda: {"v": 1}).value == {"v": 1}
    a.forget("k")
    assert b.get("k", lambda: {"v": 2}).value == {"v": 2}  # the shared copy is gone too
    assert a.get("k", lambda: {"v": 3}).value == {"v": 2}
