"""CSRF tokens for HTML forms, staff login sessions and role checks."""
from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g, redirect, request, session, url_for

from assessment.models import User

from .extensions import db_session

__all__ = ["check_csrf", "csrf_token", "current_user", "login_user", "logout_user", "role_required"]

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("_csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return token  # type: ignore[no-any-return]


def check_csrf() -> None:
    """Reject a state-changing form post without the session's token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("_csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="The form expired or was not sent from this site; reload the page and try again.")


def login_user(user: User) -> None:
    """Start a fresh staff session (a new session id prevents fixation)."""
    session.clear()
    session["uid"] = user.id
    session["_csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def logout_user() -> None:
    session.clear()


def current_user() -> User | None:
    """The logged-in staff user, if any (looked up once per request)."""
    if "user" not in g:
        uid = session.get("uid")
        user = db_session().get(User, uid) if uid else None
        g.user = user if user is not None and user.active else None
    return g.user  # type: ignore[no-any-return]


def role_required(*roles: str) -> Callable[[F], F]:
    """Only logged-in staff with one of `roles` (admin always) may use the view."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if roles and user.role not in roles and user.role != "admin":
                abort(403, description="Your role does not give access to this page.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
