"""Issue 10.5: a database that is down or restarting is answered 503 with Retry-After, not 500 with a traceback.

Found by the fault proof (`python -m loadtest run --fault restart-postgres@...`): while a PostgreSQL
restarted, every request failed with a 500 and logged a traceback (~400 in 5 s). Here the database
is a real PostgreSQL address where nothing listens (the state between a crash and the restart).
"""
from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from webapp import create_app


def _dead_postgres_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/ctcensus"


@pytest.fixture
def outage_app(app_config: dict[str, Any]):  # type: ignore[no-untyped-def]
    application = create_app({**app_config, "DATABASE_URL": _dead_postgres_url()})
    yield application
    application.extensions["ctcensus"].engine.dispose()


def test_student_api_answers_503_with_retry_after_while_the_database_is_down(outage_app, caplog) -> None:  # type: ignore[no-untyped-def]
    client = outage_app.test_client()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            response = client.post("/api/v1/login", json={"ticket": "ABCD-EFGH"})
            assert response.status_code == 503, response.data
            assert response.get_json()["error"] == "database_unavailable"
            assert response.headers["Retry-After"] == "2"
    outages = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outages) == 1  # one line per outage, not a traceback per request
    assert outages[0].exc_info is None


def test_health_check_and_pages_say_503_too(outage_app) -> None:  # type: ignore[no-untyped-def]
    client = outage_app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["Retry-After"] == "2"
    assert client.get("/readyz").status_code == 503  # the load balancer's check
    page = client.get("/overview")  # a staff page: the HTML error page, same status
    assert page.status_code in (302, 503)  # not signed in may redirect before any database read


def test_other_database_errors_stay_errors(app) -> None:  # type: ignore[no-untyped-def]
    @app.get("/_boom")
    def boom() -> str:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):  # TESTING propagates it: a bug, never dressed up as an outage
        app.test_client().get("/_boom")


def test_a_database_lost_after_the_response_is_made_does_not_turn_it_into_a_500(app) -> None:  # type: ignore[no-untyped-def]
    """The request's transaction is open (it read), then PostgreSQL drops its connection (a restart) before
    the teardown's rollback: the response stands. Found by the fault proof: gunicorn's own 500 page."""
    from sqlalchemy import text

    from webapp.extensions import db_session, services

    postgresql = app.extensions["ctcensus"].engine.dialect.name == "postgresql"

    @app.get("/_read_then_lose_the_database")
    def read_then_lose() -> str:
        if postgresql:
            pid = db_session().execute(text("SELECT pg_backend_pid()")).scalar_one()  # opens the transaction
            with services().engine.connect() as other:  # another backend ends ours, as a restart does
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
        else:  # SQLite has no server to lose: the driver's connection closes under the open transaction
            db_session().execute(text("SELECT 1"))
            db_session().connection().connection.dbapi_connection.close()  # type: ignore[union-attr]
        return "read"

    response = app.test_client().get("/_read_then_lose_the_database")
    assert response.status_code == 200 and response.data == b"read"
