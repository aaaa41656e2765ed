"""CSRF tokens for HTML forms, staff login sessions and role checks, safe redirects, security headers."""
from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, abort, current_app, g, redirect, request, session, url_for

from assessment import accounts
from assessment.models import User

from .extensions import db_session

__all__ = ["STRICT_CSP", "check_csrf", "csrf_token", "current_user", "login_user", "logout_user", "role_required",
           "safe_next", "set_security_headers", "strict_page"]

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("_csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return token


def check_csrf() -> None:
    """Reject a state-changing form post without the session's token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("_csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="The form expired or was not sent from this site; reload the page and try again.")


def login_user(user: User) -> None:
    """Start a fresh staff session (a new session id prevents fixation), bound to the user's session version."""
    session.clear()
    session["uid"] = user.id
    session["sv"] = user.session_version
    session["_csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def logout_user() -> None:
    """End this session and, by bumping the user's session version, every copy of its cookie.

    The cookie is signed but stored by the client, so clearing it here cannot
    recall a copy; the version check in `current_user` refuses every cookie
    issued before the logout (on every device of this user).
    """
    user = current_user()
    if user is not None:
        db = db_session()
        accounts.end_sessions(db, user)
        db.commit()
    session.clear()
    g.pop("user", None)


def current_user() -> User | None:
    """The logged-in staff user, if any (looked up once per request).

    A cookie whose session version is not the user's current one (logged out,
    password changed, signed out everywhere) is no login, and is cleared.
    """
    if "user" not in g:
        uid = session.get("uid")
        user = db_session().get(User, uid) if isinstance(uid, int) else None
        if user is not None and (not user.active or session.get("sv") != user.session_version):
            user = None
            session.clear()
        g.user = user
    return g.user


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


def safe_next(target: str | None) -> str | None:
    r"""`target` if it is a path on this site as a browser would read it, else None.

    Browsers drop tabs and newlines anywhere in a URL, strip leading spaces and
    control characters, and read a backslash as a slash, so `/\t/evil.example`
    and `/\evil.example` are the authority `evil.example`. Refused: any control
    character, space prefix or backslash, anything not starting with a single
    "/", and anything with a scheme or authority after parsing.
    """
    if not target or len(target) > 2048:
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# Staff pages that run no inline script or style (the proctor console, the city overview): as strict as the player's.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def strict_page(html: str, status: int = 200) -> Response:
    """An HTML response under STRICT_CSP, never cached (live data, tickets)."""
    response = current_app.make_response((html, status))
    response.headers["Content-Security-Policy"] = STRICT_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


# Applied to every response; a page that sets its own (stricter) CSP keeps it, with frame-ancestors added.
# No page runs inline script, so none may: a name or text that slipped past escaping still runs nothing.
_DEFAULT_CSP = "script-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"


def set_security_headers(response: Response) -> Response:
    """Anti-framing, no MIME sniffing and a referrer policy on every response (an `after_request` hook)."""
    headers = response.headers
    headers["X-Frame-Options"] = "DENY"
    csp = headers.get("Content-Security-Policy")
    if not csp:
        headers["Content-Security-Policy"] = _DEFAULT_CSP
    elif "frame-ancestors" not in csp:
        headers["Content-Security-Policy"] = csp.rstrip("; ") + "; frame-ancestors 'none'"
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", "same-origin")
    return response
