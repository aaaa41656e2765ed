"""The request edge: a URL path or form field holding a control character is a 400 before any view runs.

Issue 8.7: a NUL reached PostgreSQL (which cannot store it) and answered 500. JSON bodies are
checked by the one body reader (webapp.body.json_object); query parameters are each read by a
parser that accepts only its own values (lang, grade, ...), so they never reach the database.
"""
from __future__ import annotations

from flask import Flask, request

from assessment.text import check_text

__all__ = ["init_app"]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def init_app(app: Flask) -> None:
    """Refuse control characters in every request's path and form fields (400, JSON under /api/)."""
    app.before_request(_refuse_control_characters)


def _refuse_control_characters() -> None:
    check_text(request.path, "the URL path")
    if request.mimetype in _FORM_TYPES:
        for name, values in request.form.lists():
            check_text(name, "a form field name")
            for value in values:
                check_text(value, f"the form field {name}", allow_line_breaks=True)
