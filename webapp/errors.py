"""One place that maps domain errors and HTTP errors to responses (JSON for the API)."""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from assessment.errors import DomainError, ServiceBusy, TooManyRequests

__all__ = ["DATABASE_RETRY_AFTER", "database_unreachable", "init_app", "json_error"]

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER = 2  # seconds: a restarting PostgreSQL is back within a few
_LOG_EVERY_SECONDS = 5.0
_last_logged = 0.0


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (down, restarting, a dead pooled connection)."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _log_outage(exc: BaseException) -> None:
    """One warning line per process every few seconds, not a traceback per request, while the database is away."""
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= _LOG_EVERY_SECONDS:
        _last_logged = now
        first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        log.warning("database unavailable (%s: %s); answering 503 with Retry-After %d s", type(exc).__name__,
                    first_line, DATABASE_RETRY_AFTER)


def json_error(status: int, code: str, message: str, **extra: Any) -> Response:
    """A JSON error body `{"error", "message"}` with the given status."""
    response = jsonify({"error": code, "message": message, **extra})
    response.status_code = status
    return response


def _wants_json() -> bool:
    # /api/v1/... (students) and /proctor/api/... (staff live views) always answer JSON.
    return "/api/" in request.path or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        if isinstance(exc, ServiceBusy):  # the player shows the place in the queue and retries after the wait
            response = json_error(exc.http_status, exc.code, exc.message, position=exc.position,
                                  retry_after=exc.retry_after)
        elif _wants_json():
            response = json_error(exc.http_status, exc.code, exc.message)
        else:
            response = app.make_response(
                (render_template("error.html", status=exc.http_status, message=exc.message), exc.http_status)
            )
        if isinstance(exc, TooManyRequests | ServiceBusy):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Response:
        # A database that is down or restarting is an outage, not a bug: 503 with Retry-After, which the player
        # and load balancers treat as "try again shortly" (every student request is safe to repeat). Any other
        # database error is a bug and stays a 500 with its traceback.
        if not database_unreachable(exc):
            raise exc
        _log_outage(exc)
        message = "the database is unavailable for a moment; try again shortly"
        if _wants_json():
            response = json_error(503, "database_unavailable", message)
        else:
            response = app.make_response((render_template("error.html", status=503, message=message), 503))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        if _wants_json():
            response = json_error(status, exc.name.lower().replace(" ", "_"), message)
        else:
            response = app.make_response((render_template("error.html", status=status, message=message), status))
        # keep what the exception says beyond its body, e.g. Allow on a 405 (RFC 9110)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
