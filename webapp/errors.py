"""One place that maps domain errors and HTTP errors to responses (JSON for the API)."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from assessment.errors import DomainError, ServiceBusy, TooManyRequests

__all__ = ["init_app", "json_error"]


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
