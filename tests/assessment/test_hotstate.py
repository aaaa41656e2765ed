"""The Redis rate limiter (atomic count-then-give-back) and address keys."""
import pytest

from assessment.hotstate import RateLimited, RateLimiter, address_key, connect_redis


@pytest.fixture
def redis_client(redis_url, instance_path, redis_prefix):  # type: ignore[no-untyped-def]
    return connect_redis(redis_url, instance_path)


@pytest.fixture
def limiter(redis_client, redis_prefix):  # type: ignore[no-untyped-def]
    return RateLimiter(redis_client, redis_prefix)


def test_hit_counts_before_the_check_and_release_gives_back(limiter, redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    redis_client.delete(redis_prefix + "rl:k")
    limiter.hit("k", 2)
    limiter.hit("k", 2)
    with pytest.raises(RateLimited) as info:
        limiter.hit("k", 2)
    assert 0 < info.value.retry_after <= 60
    limiter.release("k")
    limiter.release("k")
    assert redis_client.get(redis_prefix + "rl:k") == "1"
    limiter.hit("k", 2)  # a slot given back can be used again
    assert 0 < redis_client.ttl(redis_prefix + "rl:k") <= 60


def test_release_never_goes_below_zero_nor_recreates_a_key(limiter, redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    redis_client.delete(redis_prefix + "rl:gone")
    limiter.release("gone")
    assert redis_client.exists(redis_prefix + "rl:gone") == 0
    limiter.hit("gone", 5)
    limiter.release("gone")
    limiter.release("gone")
    assert redis_client.get(redis_prefix + "rl:gone") == "0"


@pytest.mark.parametrize(("addr", "key"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    (None, "unknown"),
    ("not-an-address", "not-an-address"),
])
def test_address_key(addr, key) -> None:  # type: ignore[no-untyped-def]
    assert address_key(addr) == key


_START_AND_EXIT = """
import sys
from pathlib import Path
from assessment import hotstate
from webapp import create_app
instance = Path(sys.argv[1])
app = create_app({"INSTANCE_PATH": instance, "DATABASE_URL": f"sqlite:///{instance}/app.db", "REDIS_URL": ""})
app.extensions["ctcensus"].redis.ping()
print(next(iter(hotstate._embedded.values())).pid, flush=True)
if sys.argv[2] == "explicit":
    hotstate.shutdown_embedded()
    print("stopped", flush=True)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("how", ["at_exit", "explicit"])
def test_the_embedded_redis_server_stops_with_its_process(tmp_path, how) -> None:  # type: ignore[no-untyped-def]
    """An app that started the embedded redis-server leaves none behind (Redis 6.2 knows SHUTDOWN NOSAVE)."""
    import os
    import subprocess
    import sys
    import time

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["PYTHONPATH"] = root
    result = subprocess.run([sys.executable, "-c", _START_AND_EXIT, str(tmp_path), how], env=env, cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    pid = int(lines[0])
    assert pid > 0 and (how != "explicit" or lines[1] == "stopped")
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid), f"redis-server {pid} outlived its process"
    assert "Traceback" not in result.stderr


def test_local_counters_are_bounded_and_windowed() -> None:
    """The in-process fallback keeps at most max_keys keys (expired first, then the oldest)."""
    from assessment.hotstate import LocalCounters

    local = LocalCounters(max_keys=100)
    for i in range(1000):
        local.incr(f"k{i}", 60)
    assert len(local) == 100 and local.get("k999")[0] == 1 and local.get("k0") == (0, 0)
    assert local.incr("k999", 60)[0] == 2
    local.decr("k999")
    local.decr("k999")
    local.decr("k999")
    assert local.get("k999")[0] == 0


def test_limiter_falls_back_to_local_counts_when_redis_is_gone(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A Redis that refuses connections: limits still hold (in process), with one warning, no exception."""
    import logging
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limiter = RateLimiter(connect_redis(f"redis://127.0.0.1:{port}/0", tmp_path), "t:")
    with caplog.at_level(logging.WARNING):
        assert limiter.hit("k", 2) == 1
        assert limiter.hit("k", 2) == 2
        with pytest.raises(RateLimited):
            limiter.hit("k", 2)
        limiter.release("k")
        assert limiter.count("k")[0] == 2
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per call


# A process that starts (or attaches to) the embedded Redis of an instance folder, prints its pid and
# socket, then waits for a line on stdin ("fork": a forked child exits first; anything else: exit).
_HOLD = """
import os, sys
from pathlib import Path
from assessment import hotstate
url = hotstate.embedded_redis_url(Path(sys.argv[1]))
owned = next(iter(hotstate._embedded.values()), None)
print(url, owned.pid if owned else 0, flush=True)
if sys.stdin.readline().strip() == "fork":
    child = os.fork()
    if child == 0:
        sys.exit(0)  # a normal exit: atexit hooks inherited from the parent run here
    os.waitpid(child, 0)
    print("forked", flush=True)
    sys.stdin.readline()
"""


def _hold(instance):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["PYTHONPATH"] = root
    return subprocess.Popen([sys.executable, "-c", _HOLD, str(instance)], env=env, cwd=root, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def test_only_the_process_that_started_the_embedded_redis_stops_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: a second process on the same instance folder (a shell's create_app(), a second gunicorn
    worker) attaches to the running server and leaves it running at its exit; so does a forked child."""
    starter = _hold(tmp_path)
    url, pid = starter.stdout.readline().split()
    try:
        assert int(pid) > 0 and _answers(url)
        attacher = _hold(tmp_path)
        url2, pid2 = attacher.stdout.readline().split()
        assert (url2, pid2) == (url, "0")  # the same server; this process did not start one
        attacher.communicate("exit\n", timeout=60)
        assert attacher.returncode == 0 and _answers(url), "an attached process stopped the server at its exit"
        starter.stdin.write("fork\n")
        starter.stdin.flush()
        assert starter.stdout.readline().strip() == "forked"
        assert _answers(url), "a forked child stopped its parent's server at its exit"
        starter.communicate("exit\n", timeout=60)
        assert starter.returncode == 0
        assert not _answers(url) and not _running(int(pid)), "the starter left its server running"
    finally:
        if starter.poll() is None:
            starter.kill()


def test_processes_starting_together_share_one_embedded_redis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Plain `gunicorn -w 2` without REDIS_URL: the workers start at once and must share one server."""
    holders = [_hold(tmp_path) for _ in range(3)]
    try:
        seen = [h.stdout.readline().split() for h in holders]
        assert len({url for url, _ in seen}) == 1 and sum(int(pid) > 0 for _, pid in seen) == 1, seen
        starter = next(h for h, (_, pid) in zip(holders, seen, strict=True) if int(pid) > 0)
        for h in holders:
            if h is not starter:
                h.communicate("exit\n", timeout=60)
        assert _answers(seen[0][0])
        starter.communicate("exit\n", timeout=60)
        assert not _answers(seen[0][0])
    finally:
        for h in holders:
            if h.poll() is None:
                h.kill()
